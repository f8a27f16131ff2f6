"""Data for the parking benchmarks: the demo's car parks (``flask seed demo``) with counts fresh
for the run, bench devices (counters and cameras) with known secrets bound to them through the
telemetry engine, and arrival windows to reserve.

Written straight to the bench database (the bench measures the endpoints, not the set-up). The
counts are dated ``FRESH_AHEAD`` into the future so the lots show free spaces through a run of
several minutes without anybody reporting (the load script's counters report for real).
"""
from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime, time, timedelta

import sqlalchemy as sa

from bench.endpoints import BenchContext, Prepared

FRESH_AHEAD = timedelta(minutes=30)
NEAR = {"lat": 30.7420, "lon": 121.3430}  # 金山万达广场: the district's busiest cluster of car parks


def nearby_path() -> str:
    return f"/api/v1/parking/lots?lat={NEAR['lat']}&lon={NEAR['lon']}&radius_m=3000&free_only=true"


def freshen(ctx: BenchContext) -> int:
    """Every lot's count fresh (half full) for ``FRESH_AHEAD``; returns the lots."""
    from app.db import Database
    from scenarios.parking.models import PkLot

    db = Database(ctx.database_url)
    try:
        with db.transaction() as s:
            return s.execute(sa.update(PkLot).values(occupied=PkLot.capacity / 2,
                                                     occupancy_at=datetime.now(UTC) + FRESH_AHEAD)).rowcount
    finally:
        db.dispose()


def nearby_setup(ctx: BenchContext) -> Prepared:
    """Anyone's map: car parks with free spaces within 3 km of 万达 (no credentials)."""
    if not freshen(ctx):
        raise RuntimeError("no car parks: the demo data is missing")
    return Prepared()


def devices(ctx: BenchContext, n: int = 150) -> list[tuple[str, str, str]]:
    """``n`` bench devices with known secrets over the demo's public car parks: for each lot a
    counter, an entry camera and an exit camera, until ``n``. Returns ``(role, lot code, Basic
    header value)``; role is ``counter``, ``entry`` or ``exit``."""
    from auth.models import Device
    from auth.organisations import Organisation
    from auth.principal import device_secret_hash
    from bench.dispatch_setup import _app  # imports bench.endpoints, which imports this module
    from scenarios.engines.telemetry import service as telemetry
    from scenarios.parking.config import TELEMETRY
    from scenarios.parking.models import PkLot

    app = _app(ctx)
    out: list[tuple[str, str, str]] = []
    try:
        with app.app_context():
            db, clock = app.extensions["db"], app.extensions["clock"]
            with db.transaction() as s:
                lots = s.scalars(sa.select(PkLot).where(PkLot.kind == "public").order_by(PkLot.code)).all()
                orgs = {o.id: o for o in s.scalars(sa.select(Organisation).where(
                    Organisation.id.in_({lot.operator_id for lot in lots})))}
                for i in range(n):
                    lot = lots[(i // 3) % len(lots)]
                    role = ("counter", "entry", "exit")[i % 3]
                    secret = secrets.token_urlsafe(24)
                    device = Device(uid=f"dv_bench_{secrets.token_hex(6)}", organisation_id=orgs[lot.operator_id].id,
                                    kind="sensor" if role == "counter" else "camera", name=f"bench {role} {lot.code}",
                                    secret_hash=device_secret_hash(secret), status="active")
                    s.add(device)
                    s.flush()
                    telemetry.bind(s, config=TELEMETRY, kind="occupancy" if role == "counter" else "plate",
                                   device_id=device.id, subject_id=lot.id, clock=clock)
                    basic = base64.b64encode(f"{device.uid}:{secret}".encode()).decode()
                    out.append((role, lot.code, f"Basic {basic}"))
    finally:
        app.extensions["db"].dispose()
    return out


def arrival_windows(ctx: BenchContext, n: int) -> list[tuple[str, int]]:
    """``n`` (lot code, slot id) of tomorrow's arrival windows, spread over the lots and the day
    so that no window runs out of places."""
    from app.db import Database
    from app.fields import CST
    from scenarios.engines.booking.models import BkSlot
    from scenarios.parking.models import PkLot

    tomorrow = datetime.now(CST).date() + timedelta(days=1)
    start = datetime.combine(tomorrow, time(0), CST)
    db = Database(ctx.database_url)
    try:
        with db.transaction() as s:
            rows = s.execute(sa.select(PkLot.code, BkSlot.id, BkSlot.capacity)
                             .join(BkSlot, BkSlot.resource_id == PkLot.resource_id)
                             .where(BkSlot.starts_at >= start, BkSlot.starts_at < start + timedelta(days=1))
                             .order_by(BkSlot.starts_at, PkLot.code)).all()
    finally:
        db.dispose()
    places = [(code, slot_id) for code, slot_id, capacity in rows for _ in range(capacity)]
    if len(places) < n:
        raise RuntimeError(f"only {len(places)} places in tomorrow's arrival windows for {n} reservations")
    step = len(places) // n
    return [places[i * step] for i in range(n)]
