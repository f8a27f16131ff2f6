"""Where the bench requests spend their time, in process: ``python -m bench.request_profile``.

Beside ``/healthz`` and the authenticated floor (the scenario list as a resident), for the bench
rows of issues 14, 15, 17, 18, 19, 20 and 21 (availability of one court for 7 days, a booking under
contention, the gate admitting by personal code, a taxi position update and ride request, a WeChat
Pay notification booking a payment, the rural-rental room search with and without text, hotline
filing, parcel registration, a new SOS alarm and a press merged into one, the console's SOS board
and its poll) it builds the same data as the rows' set-ups in a fresh PostgreSQL database
(``DATABASE_URL``, migrated and seeded as ``make bench`` does), ``VACUUM ANALYZE``s it as the bench
does, then sends ``--n`` requests through the Flask test client and prints, per request: the SQL
statements issued (counted with SQLAlchemy cursor listeners, each listed once with its count and
wall milliseconds), the CPU milliseconds of this process and of the bench database's PostgreSQL
backends, and with ``--profile`` the top functions of a ``cProfile`` run (``--wall``: by wall-clock
time); ``--explain`` adds each statement's plan for one more request. Nothing is written to
bench/RESULTS.md; the findings are summarised there by hand.
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

from bench.cpu import cpu_seconds, postgres_pids
from bench.endpoints import SERVER_SETTINGS, BenchContext
from bench.run import BIN, LOG_LEVEL, analyze, bench_database, database_name, prepare_database

Request = Callable[[Any, int], Any]


def _statement_key(statement: str) -> str:
    text = re.sub(r"\s+", " ", statement).strip()
    return text[:150]


class StatementCounter:
    """Each statement's count and its wall milliseconds from cursor execute to its return (the
    database's work and the round trip: a slow plan stands out even on a loaded machine)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self.wall_ms: collections.Counter[str] = collections.Counter()
        sa.event.listen(engine, "before_cursor_execute", self._seen)
        sa.event.listen(engine, "after_cursor_execute", self._done)

    def clear(self) -> None:
        self.counts.clear()
        self.wall_ms.clear()

    def _seen(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.counts[_statement_key(statement)] += 1
        conn.info["bench_started"] = time.perf_counter()

    def _done(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        started = conn.info.pop("bench_started", None)
        if started is not None:
            self.wall_ms[_statement_key(statement)] += (time.perf_counter() - started) * 1000


class Explainer:
    """While on, each SELECT a request issues is run again under ``EXPLAIN (ANALYZE, BUFFERS)``
    on the same connection and transaction (writes get a plain ``EXPLAIN``: analysing one would
    write twice); the plans are printed (PostgreSQL only)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.on = False
        self.plans: list[tuple[str, str]] = []
        sa.event.listen(engine, "after_cursor_execute", self._explain)

    def _explain(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if not self.on or many or conn.dialect.name != "postgresql":
            return
        self.on = False  # not the EXPLAIN itself
        try:
            head = statement.lstrip().split(None, 1)[0].upper()
            how = "ANALYZE, BUFFERS" if head in ("SELECT", "WITH") and "INSERT" not in statement.upper() else "COSTS"
            rows = conn.exec_driver_sql(f"EXPLAIN ({how}) {statement}", parameters).all()
            self.plans.append((_statement_key(statement), "\n".join(r[0] for r in rows)))
        finally:
            self.on = True


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


def _ride(app: Any, ctx: BenchContext, n: int) -> Request:
    from bench.dispatch_setup import fleet, residents, tokens_for

    fleet(ctx)
    tokens = tokens_for(ctx, residents(ctx, n))
    return lambda c, i: c.post("/api/v1/taxi/rides", json={"passengers": 1},
                               headers={"Authorization": f"Bearer {tokens[i]}"})


def _staff_token(app: Any, username: str) -> str:
    from app.demo import DEMO_PASSWORD

    login = app.test_client().post("/api/v1/auth/staff/login", json={"username": username, "password": DEMO_PASSWORD})
    return login.get_json()["access_token"]


def _hotline(app: Any, ctx: BenchContext) -> Request:
    token = _staff_token(app, "demo-310116-hotline-taker1")
    body = {"category": "供水排水", "text": "压测：小区停水，来电询问恢复时间", "caller_phone": "19900009999",
            "location": {"lat": 30.7612, "lon": 121.3551}, "urgency": "normal"}
    return lambda c, i: c.post("/api/v1/hotline-12345/tickets", json=body, headers={"Authorization": f"Bearer {token}"})


def _parcel(app: Any, ctx: BenchContext) -> Request:
    from bench.parcel_setup import PHONE, store_setup

    auth = re.search(r'local auth = \[=*\[(.*?)\]=*\]', store_setup(ctx).lua or "").group(1)
    return lambda c, i: c.post("/api/v1/parcel-locker/parcels", headers={"Authorization": auth},
                               json={"recipient_phone": PHONE, "tracking_no": "BENCH0000001", "courier": "压测快递",
                                     "cell": f"C{(i * 7919) % 100_000:06d}"})


def _sos(app: Any, ctx: BenchContext, wearables: int) -> Request:
    """Wearables press in turn: with as many as requests each press opens an alarm; with few,
    all but the first presses of each merge into its open alarm."""
    from bench.sos_setup import seed

    _ops, auths = seed(ctx, wearables=wearables)
    return lambda c, i: c.post("/api/v1/elderly-sos/alarms", json={},
                               headers={"Authorization": auths[i % len(auths)]})


def _sos_board(app: Any, ctx: BenchContext, path: str) -> Request:
    from bench.sos_setup import BOARD_ALARMS, seed
    from scenarios.elderly_sos.places import CALL_CENTRE
    from tests.support.console import sign_in

    if not getattr(app, "_bench_board", False):  # the 200 alarms once, for the page and its poll
        _ops, auths = seed(ctx, operators=1, wearables=BOARD_ALARMS)
        client = app.test_client()
        for auth in auths:
            assert client.post("/api/v1/elderly-sos/alarms", json={}, headers={"Authorization": auth}).status_code < 300
        app._bench_board = True
    from app.demo import DEMO_PASSWORD

    browser = app.test_client()
    sign_in(browser, f"demo-{CALL_CENTRE}-operator1", DEMO_PASSWORD)
    return lambda c, i: browser.get(path)


def _run(app: Any, counter: StatementCounter, name: str, request: Request, n: int, warm: int,
         profile: bool, top: int, dump: str = "", wall: bool = False, explainer: Explainer | None = None,
         database: str | None = None) -> None:
    client = app.test_client()
    for i in range(warm):
        resp = request(client, i)
        assert resp.status_code < 300, (name, resp.status_code, resp.get_data(as_text=True)[:300])
    counter.clear()
    # CPU by default (PostgreSQL's work is not ours); --wall to find what a request waits for
    prof = cProfile.Profile(time.perf_counter if wall else time.process_time) if profile else None
    db_pids = postgres_pids(database) if database else []  # the app's pooled connections to the bench database
    db_cpu = cpu_seconds(db_pids)
    cpu, wall = time.process_time(), time.perf_counter()
    if prof:
        prof.enable()
    for i in range(warm, warm + n):
        resp = request(client, i)
        assert resp.status_code < 300, (name, resp.status_code, resp.get_data(as_text=True)[:300])
    if prof:
        prof.disable()
    cpu_ms = (time.process_time() - cpu) * 1000 / n
    wall_ms = (time.perf_counter() - wall) * 1000 / n
    db_ms = (cpu_seconds(db_pids) - db_cpu) * 1000 / n
    total = sum(counter.counts.values())
    print(f"\n=== {name}: {n} requests, {cpu_ms:.2f} ms CPU/request{' (under cProfile)' if prof else ''} "
          f"+ {db_ms:.2f} ms PostgreSQL ({wall_ms:.1f} ms wall), "
          f"{total / n:.1f} statements/request")
    for statement, count in counter.counts.most_common():
        print(f"  {count / n:5.2f}×  {counter.wall_ms[statement] / n:6.2f} ms  {statement}")
    if explainer is not None:
        explainer.plans.clear()
        explainer.on = True
        try:
            resp = request(client, warm + n)
        finally:
            explainer.on = False
        for statement, plan in explainer.plans:
            print(f"\n  -- {statement}\n" + "\n".join(f"     {line}" for line in plan.splitlines()))
    if prof:
        stats = pstats.Stats(prof)
        if dump:
            stats.dump_stats(f"{dump}.{name.split()[0]}.prof")
        stats.sort_stats("cumulative").print_stats(top)
        stats.sort_stats("tottime").print_stats(top)


def _bench_data(ctx: BenchContext) -> None:
    """What the rows before these leave in a full run's database: the API queue's 5,000 open
    tickets and the taxi row's riders (persons and accounts), before any ANALYZE."""
    from bench.dispatch_setup import RIDE_RATE_CAP, residents
    from bench.endpoints import fill_repair_queue

    fill_repair_queue(ctx)
    residents(ctx, 16 * RIDE_RATE_CAP)


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
    yield "taxi ride request", lambda: _ride(app, ctx, n)
    yield "hotline-12345 create", lambda: _hotline(app, ctx)
    yield "parcel-locker registration", lambda: _parcel(app, ctx)
    yield "sos new alarm", lambda: _sos(app, ctx, n)
    yield "sos repeated press (20 wearables)", lambda: _sos(app, ctx, 20)
    yield "console SOS board (200 open alarms)", lambda: _sos_board(app, ctx, "/console/sos/alarms")
    yield "console SOS board poll", lambda: _sos_board(app, ctx, "/console/sos/alarms/rows")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--warm", type=int, default=20)
    parser.add_argument("--only", default="", help="comma-separated words of the case names")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--wall", action="store_true", help="with --profile: by wall-clock time, not CPU")
    parser.add_argument("--bench-data", action="store_true",
                        help="first the bulk rows a full `make bench` has written (5,000 repair tickets, 6,400 riders)")
    parser.add_argument("--no-analyze", action="store_true",
                        help="skip the VACUUM ANALYZE after each case's set-up (as runs before 2026-12-05 did)")
    parser.add_argument("--explain", action="store_true",
                        help="one more request of each case with every statement's plan (EXPLAIN ANALYZE for reads)")
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
        if args.bench_data:
            _bench_data(ctx)
        counter = StatementCounter(app.extensions["db"].engine)
        explainer = Explainer(app.extensions["db"].engine) if args.explain else None
        only = [w.strip() for w in args.only.split(",") if w.strip()]
        try:
            for name, build in _cases(app, ctx, args.n + args.warm + 1):
                if only and not any(w in name for w in only):
                    continue
                request = build()
                if not args.no_analyze:
                    analyze(database.url)  # as bench.run after its set-ups
                _run(app, counter, name, request, args.n, args.warm, args.profile, args.top, args.dump, args.wall,
                     explainer, database_name(database.url) if database.url.startswith("postgres") else None)
        finally:
            app.extensions["db"].dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
