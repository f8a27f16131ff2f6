"""Two residents reserving one pile's arrival window at once: one wins (PostgreSQL, through
gunicorn with 3 worker processes × 4 threads, real commits).

Ten windows of one pile, each raced by two new residents released together by a barrier:
every window ends with exactly one reservation, one 201 and one 409 ``slot_full``, no 5xx, the
slot's counter 1. The pile's state is fresh (reported ``free`` just before), so ``may_reserve``
lets both through to the booking engine's conditional update, which decides. The pile belongs to
a reference organisation (committed tests add no reference rows).
"""
from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from app.clock import SystemClock
from auth.organisations import Organisation
from qr.keys import init_keys
from scenarios.engines.booking.models import BkBooking, BkSlot
from scenarios.ev_charging.operator import create_pile
from tests.support.database import backend
from tests.support.factories import bearer, make_resident, token_for
from tests.support.gunicorn import post_json, serve
from tests.support.qr import make_keyring

OPERATOR = "310116-bureau-transport"
ROUNDS = 10
pg_only = pytest.mark.skipif(backend() != "postgresql", reason="needs PostgreSQL and gunicorn processes")


def _world(db, app) -> tuple[list[int], list[tuple[dict, dict]]]:
    """A pile reported free now, ten of its windows from two hours ahead, two residents per window."""
    clock = SystemClock()
    stand_in = Flask("ev-race")
    stand_in.extensions = app.extensions
    with stand_in.app_context(), db.transaction() as s:
        init_keys(s, kek=make_keyring(app, db, clock)._kek, clock=clock)  # a reservation carries a pass
        org = s.scalar(sa.select(Organisation).where(Organisation.code == OPERATOR))
        pile = create_pile(s, clock=clock, org=org, code="ev-race-1", station="竞争充电站", name="1号桩",
                           address="金山区朱泾镇", lat=30.8949, lon=121.1616, power_kw=60, connector="gb_dc",
                           energy_fen_per_kwh=67, service_fen_per_kwh=80)
        pile.status, pile.status_at = "free", clock.now()
        slots = s.scalars(sa.select(BkSlot.id).where(BkSlot.resource_id == pile.resource_id,
                                                      BkSlot.starts_at > clock.now() + timedelta(hours=2))
                          .order_by(BkSlot.starts_at).limit(ROUNDS)).all()
        pairs = [tuple(bearer(token_for(s, clock, make_resident(s, name="抢充电桩"))) for _ in range(2))
                 for _ in slots]
    if (own := app.extensions.get("qr_keyring")) is not None:
        own.reload()  # this process's key set may predate the keys just committed
    return list(slots), pairs


@pytest.fixture
def server(committed_db, tmp_path):
    with serve(committed_db.engine.url.render_as_string(hide_password=False), tmp_path / "gunicorn.log") as base:
        yield base


@pg_only
@pytest.mark.slow
def test_two_residents_reserving_one_pile_at_once_one_wins(committed_db, _app, server):
    slots, pairs = _world(committed_db, _app)
    assert len(slots) == ROUNDS
    answers: Counter = Counter()
    for n, (slot_id, pair) in enumerate(zip(slots, pairs, strict=True)):
        go = threading.Barrier(2)
        got: list[tuple[int, str | None]] = []

        def client(i: int, slot_id: int = slot_id, pair: tuple = pair, go: threading.Barrier = go,
                   got: list = got, n: int = n) -> None:
            go.wait()
            status, body = post_json(f"{server}/api/v1/ev-charging/bookings", {"slot_id": slot_id},
                                     {**pair[i], "Idempotency-Key": f"ev-race-{n:02d}-{i}"})
            got.append((status, body.get("code") if status >= 400 else None))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(got) == [(201, None), (409, "slot_full")], got
        answers.update(got)
    assert answers == Counter({(201, None): ROUNDS, (409, "slot_full"): ROUNDS})
    with committed_db.transaction(write=False) as s:
        for slot_id in slots:
            live = s.scalar(sa.select(sa.func.count()).select_from(BkBooking).where(
                BkBooking.slot_id == slot_id, BkBooking.status == "confirmed"))
            slot = s.get(BkSlot, slot_id)
            assert (live, slot.booked, slot.held) == (1, 1, 0)
