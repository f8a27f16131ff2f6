"""Ticket numbers (scenarios/engines/workflow/numbers.py) say nothing about how many tickets a
company or the district receives: a day and a random block, unique, a taken one retried —
through the plain path (a savepoint) and on PostgreSQL the fast path (ON CONFLICT), also
while filers race."""
from __future__ import annotations

import itertools
import threading
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from app.clock import FrozenClock
from app.db import FAST_PATHS
from app.fields import CST
from auth.principal import Principal
from scenarios.engines.workflow import numbers
from scenarios.engines.workflow import service as svc
from scenarios.engines.workflow.models import Ticket
from tests.engines.workflow.scenario import CONFIG
from tests.support.database import backend
from tests.support.workflow import build_committed, build_world

PATHS = [False, True] if backend() == "postgresql" else [False]


def _resident(account) -> Principal:
    return Principal("resident", account_id=account.id, person_id=account.person_id)


def _file(session, clock, principal, n: int = 1) -> list[Ticket]:
    return [svc.create(session, clock=clock, principal=principal, config=CONFIG,
                       data={"category": "水电", "text": f"厨房水管漏水 {i}", "details": {"public_area": False}}).ticket
            for i in range(n)]


class Draws:
    """A stand-in random source (thread-safe): the blocks given, in order; counts the draws."""

    def __init__(self, blocks) -> None:
        self.blocks, self.count, self.lock = iter(blocks), 0, threading.Lock()

    def __call__(self) -> str:
        with self.lock:
            self.count += 1
            return next(self.blocks)


@pytest.mark.usefixtures("ctx", "reset_rate_limits")
@pytest.mark.parametrize("fast", PATHS)
def test_consecutive_numbers_reveal_neither_order_nor_count(app, session, clock, fast):
    session.info[FAST_PATHS] = fast
    wf = build_world(session, clock)
    tickets = _file(session, clock, _resident(wf.accounts["alice"]), 12)
    head = f"WT{clock.now().astimezone(CST):%Y%m%d}"
    blocks = [t.number.removeprefix(head) for t in tickets]
    assert all(t.number.startswith(head) for t in tickets)
    assert all(len(b) == numbers.BLOCK and set(b) <= set(numbers.ALPHABET) for b in blocks), blocks
    assert len(set(blocks)) == len(blocks)
    # Nothing of the id (the district-wide count) is in the number, and filing order is not number order.
    assert not any(f"{t.id:06d}" in t.number for t in tickets)
    assert sorted(blocks) != blocks and sorted(blocks, reverse=True) != blocks
    session.expire_all()
    assert [session.get(Ticket, t.id).number for t in tickets] == [t.number for t in tickets]  # as stored


@pytest.mark.usefixtures("ctx", "reset_rate_limits")
@pytest.mark.parametrize("fast", PATHS)
def test_a_taken_number_is_drawn_again(app, session, clock, fast, monkeypatch):
    session.info[FAST_PATHS] = fast
    wf = build_world(session, clock)
    alice = _resident(wf.accounts["alice"])
    draws = Draws(["AAAAAAAA", "AAAAAAAA", "AAAAAAAA", "BBBBBBBB"])
    monkeypatch.setattr(numbers, "random_block", draws)
    first, second = _file(session, clock, alice, 2)
    assert first.number.endswith("AAAAAAAA") and second.number.endswith("BBBBBBBB") and draws.count == 4
    session.flush()
    assert session.scalar(sa.select(sa.func.count()).select_from(Ticket).where(Ticket.id == second.id)) == 1
    monkeypatch.setattr(numbers, "random_block", Draws(itertools.repeat("AAAAAAAA")))
    with pytest.raises(numbers.NumberExhausted):
        _file(session, clock, alice)


@pytest.mark.skipif(backend() != "postgresql", reason="needs PostgreSQL (concurrent inserts)")
def test_numbers_stay_unique_when_filers_race(committed_db, monkeypatch):
    """The first ``pairs`` blocks are handed out twice, to filers released together, so each
    pair's later insert collides with a ticket being filed at that moment or just filed; every
    filing still succeeds, under a distinct number, and exactly one draw per pair was retried."""
    created = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    world = build_committed(committed_db, on=date(2026, 11, 2))
    pairs = 6
    twice = itertools.chain.from_iterable((f"{i:08d}", f"{i:08d}") for i in range(pairs))
    draws = Draws(itertools.chain(twice, (f"{i:08d}" for i in itertools.count(pairs))))
    monkeypatch.setattr(numbers, "random_block", draws)
    clock = FrozenClock(created)
    threads_n, each = 6, 5
    start = threading.Barrier(threads_n)
    errors: list[BaseException] = []
    ids: list[int] = []

    def filer(n: int) -> None:
        try:
            start.wait()
            for i in range(each):
                with committed_db.transaction() as s:
                    s.info[FAST_PATHS] = n % 2 == 0  # half the filers take the fast path, half the plain one
                    ids.append(svc.create(s, clock=clock, principal=world.resident, config=CONFIG, data={
                        "category": "水电", "text": f"漏水 {n}-{i}", "community_code": world.community_code}).ticket.id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=filer, args=(n,)) for n in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    with committed_db.transaction(write=False) as s:
        filed = s.scalars(sa.select(Ticket.number).where(Ticket.id.in_(ids))).all()
    assert len(ids) == threads_n * each and len(set(filed)) == len(filed) == len(ids)
    # Both outcomes of every pair: one filer got the block, the other met it taken and drew again.
    assert sum(1 for n in filed if n.endswith(tuple(f"{i:08d}" for i in range(pairs)))) == pairs
    assert draws.count - len(ids) == pairs
