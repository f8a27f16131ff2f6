"""Nothing overbooks, under real concurrency, with real commits.

- PostgreSQL: 200 HTTP clients race for a class slot of capacity 10 through a gunicorn with
  several worker processes (and threads): exactly 10 bookings exist, every other client got 409
  ``slot_full``, nobody a 5xx; 50 clients race for a whole court: one booking.
- PostgreSQL: holds expiring while their owners confirm (the worker's expiry and the confirm
  started together, each in its own transaction): each hold ends confirmed (and the confirm
  answered so) or expired (and the confirm got ``hold_expired``), never both; the counters
  equal what the bookings say.
- SQLite: the same capacity race with threads through the application (a connection each).

The world is built on reference organisations (committed tests add no reference rows): the
district's sports bureau owns the resources; slots are tomorrow, real time (the servers use
the real clock).
"""
from __future__ import annotations

import json
import os
import random
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from app.clock import FrozenClock, SystemClock
from auth.organisations import Organisation
from auth.principal import Principal
from qr.keys import init_keys
from scenarios.engines.booking import service
from scenarios.engines.booking.models import BkBooking, BkResource, BkSlot
from tests.engines.booking.scenario import CONFIG as TEST_CONFIG
from tests.support.database import backend
from tests.support.factories import bearer, make_resident, token_for
from tests.support.qr import make_keyring

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
OWNER = "310116-bureau-sports"


def _world(db, app, *, slug: str, kind: str, capacity: int, clients: int, clock=None):
    """A resource of ``kind`` with one slot tomorrow at 10:00 (Beijing), ``clients`` residents
    with tokens; signing keys for passes. Returns (slot id, [headers])."""
    clock = clock or SystemClock()
    stand_in = Flask("booking-race")
    stand_in.extensions = app.extensions
    with stand_in.app_context(), db.transaction() as s:
        kr = make_keyring(app, db, clock)
        init_keys(s, kek=kr._kek, clock=clock)
        owner = s.scalar(sa.select(Organisation).where(Organisation.code == OWNER))
        resource = BkResource(scenario=slug, code=f"race-{kind}-{os.getpid()}", name="竞争", kind=kind,
                              owner_org_id=owner.id, address="金山区", capacity=capacity, slot_minutes=60,
                              calendar="every_day", active=True, attributes={}, created_at=clock.now())
        s.add(resource)
        s.flush()
        start = (clock.now() + timedelta(days=1)).replace(hour=2, minute=0, second=0, microsecond=0)
        slot = BkSlot(resource_id=resource.id, scenario=slug, starts_at=start, ends_at=start + timedelta(hours=1),
                      capacity=capacity, booked=0, held=0, status="open")
        s.add(slot)
        s.flush()
        headers = [bearer(token_for(s, clock, make_resident(s, name="竞争者"))) for _ in range(clients)]
    # The app's own keyring (passes issued in this process) may hold a key set read before
    # these keys existed (an earlier test in this worker): read it again now they are committed.
    if (own := app.extensions.get("qr_keyring")) is not None:
        own.reload()
    return slot.id, headers


def _counts(db, slot_id: int) -> tuple[int, int, int, int]:
    """(booked, held, live bookings' units, live bookings)."""
    with db.transaction(write=False) as s:
        slot = s.get(BkSlot, slot_id)
        rows = s.execute(sa.select(BkBooking.units).where(BkBooking.slot_id == slot_id,
                                                          BkBooking.status.in_(("held", "confirmed")))).all()
        return slot.booked, slot.held, sum(r.units for r in rows), len(rows)


def _race(post, headers: list[dict], slot_id: int, *, threads: int | None = None) -> Counter:
    """Every client books at once (one thread each, released by a barrier; or ``threads``
    threads taking the clients in turn); returns the answers' (status, code)."""
    n = threads or len(headers)
    start = threading.Barrier(n)
    answers: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def client(first: int) -> None:
        start.wait()
        for i in range(first, len(headers), n):
            h = {**headers[i], "Idempotency-Key": f"race-key-{slot_id}-{i:04d}", "Content-Type": "application/json"}
            result = post(json.dumps({"slot_id": slot_id}).encode(), h)
            with lock:
                answers.append(result)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(answers) == len(headers)
    return Counter(answers)


# ---------------------------------------------------------------- PostgreSQL, through gunicorn


def _http_post(url: str):
    def post(body: bytes, headers: dict) -> tuple[int, str | None]:
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 (ours)
        try:
            with urllib.request.urlopen(request, timeout=60) as resp:  # noqa: S310
                return resp.status, None
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}").get("code")

    return post


pg_only = pytest.mark.skipif(backend() != "postgresql", reason="needs PostgreSQL and gunicorn processes")


@pg_only
@pytest.mark.slow
@pytest.mark.parametrize(("kind", "capacity", "clients"), [("capacity", 10, 200), ("unit", 1, 50)])
def test_http_clients_racing_through_gunicorn_never_overbook(committed_db, _app, gunicorn, kind, capacity, clients):
    slot_id, headers = _world(committed_db, _app, slug="venue-booking", kind=kind, capacity=capacity,
                              clients=clients)
    answers = _race(_http_post(gunicorn + "/api/v1/venue-booking/bookings"), headers, slot_id)
    assert answers == Counter({(201, None): capacity, (409, "slot_full"): clients - capacity}), answers
    assert _counts(committed_db, slot_id) == (capacity, 0, capacity, capacity)


@pg_only
def test_a_hold_expiring_while_its_owner_confirms_has_one_outcome(committed_db, _app):
    """30 holds expire at T; for each, a confirm (its clock a hair before T) and the worker's
    expiry (a hair after) start together in their own transactions."""
    base = datetime.now(UTC).replace(microsecond=0)
    slot_id, _ = _world(committed_db, _app, slug=TEST_CONFIG.slug, kind="capacity", capacity=40, clients=0)
    booker_clock = FrozenClock(base)
    stand_in = Flask("booking-race")
    stand_in.extensions = _app.extensions
    with stand_in.app_context(), committed_db.transaction() as s:
        ids, principals = [], []
        for _ in range(30):
            account = make_resident(s, name="抢确认")
            principal = Principal("resident", account_id=account.id, person_id=account.person_id)
            ids.append(service.book(s, clock=booker_clock, principal=principal, config=TEST_CONFIG,
                                    slot_id=slot_id).id)
            principals.append(principal)
    expiry = base + TEST_CONFIG.hold
    outcomes: dict[int, str] = {}

    def confirm(i: int, go: threading.Barrier) -> None:
        with stand_in.app_context():
            go.wait()
            try:
                with committed_db.transaction() as s:
                    booking = s.get(BkBooking, ids[i])
                    service.confirm(s, clock=FrozenClock(expiry - timedelta(milliseconds=1)),
                                    principal=principals[i], config=TEST_CONFIG, booking=booking)
                outcomes[ids[i]] = "confirmed"
            except Exception as exc:
                outcomes[ids[i]] = getattr(exc, "code", repr(exc))

    def expire(i: int, go: threading.Barrier) -> None:
        with stand_in.app_context():
            go.wait()
            time.sleep(random.uniform(0, 0.006))
            with committed_db.transaction() as s:
                service.expire_hold(s, TEST_CONFIG, ids[i], clock=FrozenClock(expiry + timedelta(milliseconds=1)))

    for i in range(len(ids)):
        go = threading.Barrier(2)
        pair = [threading.Thread(target=confirm, args=(i, go)), threading.Thread(target=expire, args=(i, go))]
        for t in pair:
            t.start()
        for t in pair:
            t.join(30)
    with committed_db.transaction(write=False) as s:
        final = dict(s.execute(sa.select(BkBooking.id, BkBooking.status).where(BkBooking.id.in_(ids))).all())
    for booking_id in ids:
        want = {"confirmed": "confirmed", "hold_expired": "expired"}[outcomes[booking_id]]
        assert final[booking_id] == want, (booking_id, outcomes[booking_id], final[booking_id])
    confirmed = sum(1 for v in final.values() if v == "confirmed")
    booked, held, _, _ = _counts(committed_db, slot_id)
    assert (booked, held) == (confirmed, 0)
    print(f"confirmed {confirmed}, expired {len(ids) - confirmed}")


@pg_only
def test_bookings_swapping_slots_at_once_neither_deadlock_nor_miscount(committed_db, _app):
    """20 pairs: X on slot A moves to B while Y on B moves to A, each pair started together. Both
    moves succeed (the engine takes its locks in one order: no deadlock), and each slot still
    counts its bookings."""
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    slot_a, _ = _world(committed_db, _app, slug=TEST_CONFIG.slug, kind="capacity", capacity=100, clients=0,
                       clock=clock)
    stand_in = Flask("booking-race")
    stand_in.extensions = _app.extensions
    with stand_in.app_context(), committed_db.transaction() as s:
        a = s.get(BkSlot, slot_a)
        b = BkSlot(resource_id=a.resource_id, scenario=a.scenario, starts_at=a.starts_at + timedelta(hours=1),
                   ends_at=a.ends_at + timedelta(hours=1), capacity=100, booked=0, held=0, status="open")
        s.add(b)
        s.flush()
        slot_b = b.id
        pairs = []
        for _ in range(20):
            people = []
            for slot_id in (slot_a, slot_b):
                account = make_resident(s, name="改约")
                principal = Principal("resident", account_id=account.id, person_id=account.person_id)
                booking = service.book(s, clock=clock, principal=principal, config=TEST_CONFIG, slot_id=slot_id)
                service.confirm(s, clock=clock, principal=principal, config=TEST_CONFIG, booking=booking)
                people.append((booking.id, principal))
            pairs.append(people)
    errors: list[BaseException] = []

    def move(booking_id: int, principal: Principal, to: int, go: threading.Barrier) -> None:
        with stand_in.app_context():
            go.wait()
            try:
                with committed_db.transaction() as s:
                    service.reschedule(s, clock=clock, principal=principal, config=TEST_CONFIG,
                                       booking=s.get(BkBooking, booking_id), slot_id=to)
            except BaseException as exc:
                errors.append(exc)

    for (x, px), (y, py) in pairs:
        go = threading.Barrier(2)
        threads = [threading.Thread(target=move, args=(x, px, slot_b, go)),
                   threading.Thread(target=move, args=(y, py, slot_a, go))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert errors == []
    for slot_id in (slot_a, slot_b):
        booked, held, units, live = _counts(committed_db, slot_id)
        assert (booked, held, units, live) == (20, 0, 20, 20)


# ---------------------------------------------------------------- SQLite, threads through the app

SQLITE_THREADS = 6
"""Concurrent requests in one process on SQLite, as a small server would run: each request uses
two pooled connections (its own and the idempotency record's), and SQLAlchemy's pool for a
SQLite file holds 15, so many more threads would wait on the pool, not on the database."""


@pytest.mark.skipif(backend() != "sqlite", reason="the SQLite variant of the race")
@pytest.mark.parametrize(("kind", "capacity", "clients"), [("capacity", 10, 60), ("unit", 1, 20)])
def test_threads_racing_on_sqlite_never_overbook(committed_db, _app, _clock, kind, capacity, clients):
    _clock.set(datetime.now(UTC))  # the application's clock (a test's)
    slot_id, headers = _world(committed_db, _app, slug="venue-booking", kind=kind, capacity=capacity,
                              clients=clients, clock=_clock)

    def post(body: bytes, h: dict) -> tuple[int, str | None]:
        resp = _app.test_client().post("/api/v1/venue-booking/bookings", data=body, headers=h)
        return resp.status_code, None if resp.status_code == 201 else (resp.get_json() or {}).get("code")

    answers = _race(post, headers, slot_id, threads=SQLITE_THREADS)
    assert answers == Counter({(201, None): capacity, (409, "slot_full"): clients - capacity}), answers
    assert _counts(committed_db, slot_id) == (capacity, 0, capacity, capacity)
