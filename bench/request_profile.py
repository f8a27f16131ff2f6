"""Where the booking, ledger, taxi and rural-rental bench requests spend their time, in process.

``python -m bench.request_profile``.

Beside ``/healthz`` and the authenticated floor (the scenario list as a resident), for each of
the bench rows of issues 14, 15, 17 and 19 (availability of one court for 7 days, a booking
under contention, the gate admitting by personal code, a taxi position update, a WeChat Pay
notification booking a payment, the rural-rental room search with and without text) it builds the
same data as ``bench/booking_setup.py`` / ``bench/dispatch_setup.py`` / ``bench/ledger_setup.py`` /
``bench/listing_setup.py`` in a fresh PostgreSQL
database (``DATABASE_URL``, migrated and seeded as ``make bench`` does), then sends ``--n``
requests through the Flask test client and prints, per request: the SQL statements issued
(counted with a SQLAlchemy ``before_cursor_execute`` listener, each listed once with its
count), the CPU milliseconds, and with ``--profile`` the top functions of a ``cProfile`` run.
Nothing is written to bench/RESULTS.md; the findings are summarised there by hand.
"""
from __future__ import annotations

import argparse
import base64
import collections
import cProfile
import os
import pstats
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa

from bench.endpoints import SERVER_SETTINGS, BenchContext
from bench.run import BIN, LOG_LEVEL, bench_database, prepare_database

Request = Callable[[Any, int], Any]


def _statement_key(statement: str) -> str:
    text = re.sub(r"\s+", " ", statement).strip()
    return text[:150]


class StatementCounter:
    def __init__(self, engine: sa.Engine) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        sa.event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.counts[_statement_key(statement)] += 1


def _resident_get(app: Any, path: str) -> Request:
    from bench.qr_setup import RESIDENT_OPENID

    client = app.test_client()
    token = client.post("/api/v1/auth/dev/login", json={"openid": RESIDENT_OPENID}).get_json()["access_token"]
    return lambda c, i: c.get(path, headers={"Authorization": f"Bearer {token}"})


def _availability(app: Any, ctx: BenchContext) -> Request:
    from bench.booking_setup import DEMO_COURT

    return _resident_get(app, f"/api/v1/venue-booking/resources/{DEMO_COURT}/availability?days=7")


def _contention(app: Any, ctx: BenchContext, n: int) -> Request:
    from bench.booking_setup import DAYS, SLOTS, _world

    slot_ids, tokens = _world(ctx, n // 4 + 2)
    per_day = SLOTS // DAYS
    lines = [(token, slot_ids[((p + j) % DAYS) * per_day + p % per_day])
             for p, token in enumerate(tokens) for j in range(4)]
    return lambda c, i: c.post("/api/v1/venue-booking/bookings", json={"slot_id": lines[i][1]},
                               headers={"Authorization": f"Bearer {lines[i][0]}"})


def _gate(app: Any, ctx: BenchContext, n: int) -> Request:
    from bench.booking_setup import ADMITS, _gate_device, _gate_world

    uid, secret = _gate_device(ctx)
    tokens = _gate_world(ctx, n // ADMITS + 2, lifetime_seconds=3600)
    basic = "Basic " + base64.b64encode(f"{uid}:{secret}".encode()).decode()
    return lambda c, i: c.post("/api/v1/venue-booking/check-ins", json={"token": tokens[i]},
                               headers={"Authorization": basic})


def _position(app: Any, ctx: BenchContext) -> Request:
    from bench.dispatch_setup import COMPANY_CODE, fleet, tokens_for
    from scenarios.taxi.pilot import PILOT

    driver = fleet(ctx)[0]
    token = tokens_for(ctx, [driver], COMPANY_CODE)[0]
    point = PILOT[0]
    body = {"lat": point.lat + 0.002, "lon": point.lon}
    return lambda c, i: c.put("/api/v1/taxi/agents/me/position", json=body,
                              headers={"Authorization": f"Bearer {token}"})


def _notification(app: Any, ctx: BenchContext, n: int) -> Request:
    from bench.ledger_setup import pending_intents, signed_notification

    signed = [signed_notification(number, amount, k)
              for k, (number, amount) in enumerate(pending_intents(ctx.database_url, n))]
    return lambda c, i: c.post("/api/v1/payments/notify/wechatpay", data=signed[i][1], headers=signed[i][0])


def _room_search(app: Any, ctx: BenchContext, text: str | None = None) -> Request:
    from bench.listing_setup import rooms, search_path

    rooms(ctx)
    return _resident_get(app, search_path(text=text))


def _run(app: Any, counter: StatementCounter, name: str, request: Request, n: int, warm: int,
         profile: bool, top: int, dump: str = "") -> None:
    client = app.test_client()
    for i in range(warm):
        resp = request(client, i)
        assert resp.status_code < 300, (name, resp.status_code, resp.get_data(as_text=True)[:300])
    counter.counts.clear()
    prof = cProfile.Profile(time.process_time) if profile else None  # CPU, not wall: PostgreSQL waits are not ours
    cpu = time.process_time()
    if prof:
        prof.enable()
    for i in range(warm, warm + n):
        resp = request(client, i)
        assert resp.status_code < 300, (name, resp.status_code, resp.get_data(as_text=True)[:300])
    if prof:
        prof.disable()
    cpu_ms = (time.process_time() - cpu) * 1000 / n
    total = sum(counter.counts.values())
    print(f"\n=== {name}: {n} requests, {cpu_ms:.2f} ms CPU/request{' (under cProfile)' if prof else ''}, "
          f"{total / n:.1f} statements/request")
    for statement, count in counter.counts.most_common():
        print(f"  {count / n:5.2f}×  {statement}")
    if prof:
        stats = pstats.Stats(prof)
        if dump:
            stats.dump_stats(f"{dump}.{name.split()[0]}.prof")
        stats.sort_stats("cumulative").print_stats(top)
        stats.sort_stats("tottime").print_stats(top)


def _cases(app: Any, ctx: BenchContext, n: int) -> Iterator[tuple[str, Callable[[], Request]]]:
    yield "healthz (the app's floor)", lambda: (lambda c, i: c.get("/healthz"))
    yield "scenarios as a resident (the authenticated floor)", lambda: _resident_get(app, "/api/v1/scenarios")
    yield "availability (7 days)", lambda: _availability(app, ctx)
    yield "book under contention", lambda: _contention(app, ctx, n)
    yield "gate by personal code", lambda: _gate(app, ctx, n)
    yield "taxi position update", lambda: _position(app, ctx)
    yield "WeChat Pay notification (books a payment)", lambda: _notification(app, ctx, n)
    yield "rural-rental room search (village, rent, 5 km)", lambda: _room_search(app, ctx)
    yield "rural-rental room search with text", lambda: _room_search(app, ctx, "空调")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--warm", type=int, default=20)
    parser.add_argument("--only", default="", help="comma-separated words of the case names")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--dump", default="", help="with --profile: write each profile to DUMP.<case>.prof")
    args = parser.parse_args(argv)
    from app import create_app
    from app.config import load_settings

    base_env = {**os.environ, "APP_ENV": "development", "LOG_LEVEL": LOG_LEVEL,
                "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    with bench_database(os.environ) as database:
        env = {**base_env, **SERVER_SETTINGS, "DATABASE_URL": database.url}
        prepare_database(env)
        ctx = BenchContext("", database.url, env)
        app = create_app(load_settings(env))
        counter = StatementCounter(app.extensions["db"].engine)
        only = [w.strip() for w in args.only.split(",") if w.strip()]
        try:
            for name, build in _cases(app, ctx, args.n + args.warm):
                if only and not any(w in name for w in only):
                    continue
                _run(app, counter, name, build(), args.n, args.warm, args.profile, args.top, args.dump)
        finally:
            app.extensions["db"].dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
