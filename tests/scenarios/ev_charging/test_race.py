"""Two residents reserving one pile's arrival window at once: one wins; two residents scanning one
pile's place code at once: one session (PostgreSQL, through gunicorn with 3 worker processes ×
4 threads, real commits).

Ten windows of one pile, each raced by two new residents released together by a barrier:
every window ends with exactly one reservation, one 201 and one 409 ``slot_full``, no 5xx, the
slot's counter 1. The pile's state is fresh (reported ``free`` just before), so ``may_reserve``
lets both through to the booking engine's conditional update, which decides. The pile belongs to
a reference organisation (committed tests add no reference rows). The starts: ten piles, each
scanned by two residents together: one 201, one 409 ``pile_in_use`` (the pile's row lock, and
the partial unique index of open sessions behind it), one open session a pile.
"""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from app.clock import SystemClock
from auth.organisations import Organisation
from qr.keys import init_keys
from scenarios.engines.booking.models import BkBooking, BkSlot
from scenarios.ev_charging.models import EvPile, EvSession
from scenarios.ev_charging.operator import create_pile
from scenarios.ev_charging.sessions import place_code
from tests.support.database import backend
from tests.support.factories import bearer, make_resident, token_for
from tests.support.gunicorn import post_json, serve
from tests.support.qr import make_keyring

OPERATOR = "310116-bureau-transport"
ROUNDS = 10
pg_only = pytest.mark.skipif(backend() != "postgresql", reason="needs PostgreSQL and gunicorn processes")


def _world(db, app, piles: int = 1) -> tuple[list[int], list[tuple[dict, dict]], list[str]]:
    """``piles`` piles reported free now; ten windows of the first from two hours ahead; two
    residents per round; each pile's place-code link."""
    clock = SystemClock()
    stand_in = Flask("ev-race")
    stand_in.extensions = app.extensions
    with stand_in.app_context(), db.transaction() as s:
        init_keys(s, kek=make_keyring(app, db, clock)._kek, clock=clock)  # passes and place codes are signed
        org = s.scalar(sa.select(Organisation).where(Organisation.code == OPERATOR))
        made = [create_pile(s, clock=clock, org=org, code=f"ev-race-{n}", station="竞争充电站", name=f"{n}号桩",
                            address="金山区朱泾镇", lat=30.8949, lon=121.1616, power_kw=60, connector="gb_dc",
                            energy_fen_per_kwh=67, service_fen_per_kwh=80) for n in range(piles)]
        for pile in made:
            pile.status, pile.status_at = "free", clock.now()
        slots = s.scalars(sa.select(BkSlot.id).where(BkSlot.resource_id == made[0].resource_id,
                                                      BkSlot.starts_at > clock.now() + timedelta(hours=2))
                          .order_by(BkSlot.starts_at).limit(ROUNDS)).all()
        pairs = [tuple(bearer(token_for(s, clock, make_resident(s, name="抢充电桩"))) for _ in range(2))
                 for _ in range(ROUNDS)]
        ids = [pile.id for pile in made]
    if (own := app.extensions.get("qr_keyring")) is not None:
        own.reload()  # this process's key set may predate the keys just committed
    with stand_in.app_context(), db.transaction() as s:
        links = [place_code(s, s.get(EvPile, pile_id), clock=clock) for pile_id in ids]
    return list(slots), pairs, links


def _pair(post) -> list[tuple[int, str | None]]:
    """Both clients of a round at once (a barrier); their (status, code)."""
    go, got = threading.Barrier(2), []

    def client(i: int) -> None:
        go.wait()
        status, body = post(i)
        got.append((status, body.get("code") if status >= 400 else None))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return sorted(got)


@pytest.fixture
def server(committed_db, tmp_path):
    with serve(committed_db.engine.url.render_as_string(hide_password=False), tmp_path / "gunicorn.log") as base:
        yield base


@pg_only
@pytest.mark.slow
def test_two_residents_reserving_one_pile_at_once_one_wins(committed_db, _app, server):
    slots, pairs, _ = _world(committed_db, _app)
    assert len(slots) == ROUNDS
    for n, (slot_id, pair) in enumerate(zip(slots, pairs, strict=True)):
        got = _pair(lambda i, slot_id=slot_id, pair=pair, n=n: post_json(
            f"{server}/api/v1/ev-charging/bookings", {"slot_id": slot_id},
            {**pair[i], "Idempotency-Key": f"ev-race-{n:02d}-{i}"}))
        assert got == [(201, None), (409, "slot_full")], got
    with committed_db.transaction(write=False) as s:
        for slot_id in slots:
            live = s.scalar(sa.select(sa.func.count()).select_from(BkBooking).where(
                BkBooking.slot_id == slot_id, BkBooking.status == "confirmed"))
            slot = s.get(BkSlot, slot_id)
            assert (live, slot.booked, slot.held) == (1, 1, 0)


@pg_only
@pytest.mark.slow
def test_two_residents_scanning_one_pile_at_once_start_one_session(committed_db, _app, server):
    _, pairs, links = _world(committed_db, _app, piles=ROUNDS)
    for n, (link, pair) in enumerate(zip(links, pairs, strict=True)):
        got = _pair(lambda i, link=link, pair=pair, n=n: post_json(
            f"{server}/api/v1/ev-charging/sessions", {"scanned": link},
            {**pair[i], "Idempotency-Key": f"ev-start-{n:02d}-{i}"}))
        assert got == [(201, None), (409, "pile_in_use")], got
    with committed_db.transaction(write=False) as s:
        open_per_pile = s.execute(sa.select(EvSession.pile_id, sa.func.count()).where(EvSession.status == "charging")
                                  .group_by(EvSession.pile_id)).all()
        assert sorted(c for _, c in open_per_pile) == [1] * ROUNDS
