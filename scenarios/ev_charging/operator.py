"""What a charging operator's staff do and see: their piles (created with a booking resource, a
device binding and a place code), the sessions of a day and revenue per Beijing day.

Only staff acting for a ``charging_operator`` (its ``manager``/``staff``) reach these; a pile is
created by its managers. Sessions are listed without personal data (the driver is the ledger's
payer, not the operator's business).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.db import hours_since_epoch
from app.errors import ApiError
from app.fields import CST
from app.geo import require_inside_district
from auth.devices import device_of_org
from auth.organisations import Organisation
from auth.principal import Principal
from scenarios.engines.booking.models import BkOpeningRule, BkResource
from scenarios.engines.booking.slots import generate
from scenarios.engines.telemetry import service as telemetry
from scenarios.ev_charging.models import EvPile, EvSession
from scenarios.ev_charging.tariff import check_bands

OPERATOR_TYPE = "charging_operator"
ALL_DAY = tuple({"weekday": d, "opens_minute": 0, "closes_minute": 24 * 60} for d in range(7))
WINDOW_MINUTES = 30
MAX_REVENUE_DAYS = 92


def require_operator(principal: Principal, *, manage: bool = False) -> int:
    """The acting organisation's id for its staff (403 for anyone else; ``manage``: managers)."""
    if not principal.is_staff or principal.org_type != OPERATOR_TYPE or principal.role not in ("manager", "staff"):
        raise ApiError("forbidden")
    if manage and principal.role != "manager":
        raise ApiError("forbidden")
    return principal.org_id


def create_pile(session: Session, *, clock: Clock, org: Organisation, code: str, station: str, name: str,
                address: str, lat: float, lon: float, power_kw: int, connector: str, energy_fen_per_kwh: int,
                service_fen_per_kwh: int, tou: list[dict] | None = None, device_id: str | None = None,
                window_days: int = 2) -> EvPile:
    """A pile of ``org``: its booking resource (a whole unit, arrival windows of 30 minutes round the
    clock, slots for ``window_days``), its device bound to report its status and energy."""
    from scenarios.ev_charging.telemetry import ENERGY, STATUS, TELEMETRY

    require_inside_district(lat, lon)
    bands = check_bands(tou or ())
    if session.scalar(sa.select(sa.func.count()).select_from(EvPile).where(EvPile.code == code)) or \
            session.scalar(sa.select(sa.func.count()).select_from(BkResource).where(BkResource.code == code)):
        raise ApiError("resource_code_taken", errors={"code": ["编号已被使用。"]})
    device = device_of_org(session, org, device_id) if device_id else None
    if device is not None and device.kind != "charger":
        raise ApiError("validation_error", errors={"device_id": ["只有充电桩设备 (charger) 可以绑定。"]})
    now = clock.now()
    resource = BkResource(scenario="ev-charging", code=code, name=f"{station} {name}"[:100], kind="unit",
                          owner_org_id=org.id, address=address, lat=lat, lon=lon, capacity=1,
                          slot_minutes=WINDOW_MINUTES, calendar="every_day", active=True,
                          attributes={"power_kw": power_kw, "connector": connector}, created_at=now)
    session.add(resource)
    session.flush()
    session.add_all(BkOpeningRule(resource_id=resource.id, **h) for h in ALL_DAY)
    pile = EvPile(code=code, resource_id=resource.id, operator_org_id=org.id,
                  device_id=device.id if device is not None else None, station=station, name=name, address=address,
                  lat=lat, lon=lon, power_kw=power_kw, connector=connector, energy_fen_per_kwh=energy_fen_per_kwh,
                  service_fen_per_kwh=service_fen_per_kwh, tou=bands, status="offline", active=True)
    session.add(pile)
    session.flush()
    generate(session, resource, first=now.astimezone(CST).date(), days=window_days)
    if device is not None:
        for kind in (STATUS, ENERGY):
            telemetry.bind(session, config=TELEMETRY, kind=kind, device_id=device.id, subject_id=pile.id, clock=clock)
    return pile


def sessions_of_day(org_id: int, day: date) -> sa.Select:
    start = datetime.combine(day, time(0), CST)
    return (sa.select(EvSession, EvPile.code, EvPile.station).join(EvPile, EvPile.id == EvSession.pile_id)
            .where(EvSession.operator_org_id == org_id, EvSession.started_at >= start,
                   EvSession.started_at < start + timedelta(days=1))
            .order_by(EvSession.started_at, EvSession.id))


def revenue(session: Session, org_id: int, date_from: date, date_to: date) -> dict[str, Any]:
    """Per Beijing day from ``date_from`` to ``date_to`` (inclusive): sessions stopped that day,
    their energy, their fees billed and paid (fen). Every day listed, zeros too."""
    if date_to < date_from:
        raise ApiError("validation_error", errors={"date_to": ["结束日期不能早于开始日期。"]})
    if (date_to - date_from).days >= MAX_REVENUE_DAYS:
        raise ApiError("validation_error", errors={"date_to": [f"最多 {MAX_REVENUE_DAYS} 天。"]})
    start = datetime.combine(date_from, time(0), CST)
    end = datetime.combine(date_to + timedelta(days=1), time(0), CST)
    hour = hours_since_epoch(session, EvSession.stopped_at).label("hour")
    paid = sa.case((EvSession.status == "paid", EvSession.fee_fen), else_=0)
    rows = session.execute(
        sa.select(hour, sa.func.count(), sa.func.sum(EvSession.energy_wh), sa.func.sum(EvSession.fee_fen),
                  sa.func.sum(paid))
        .where(EvSession.operator_org_id == org_id, EvSession.status != "charging", EvSession.stopped_at >= start,
               EvSession.stopped_at < end)
        .group_by(hour)).all()
    days: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for h, count, wh, billed, paid_fen in rows:
        day = datetime.fromtimestamp(int(h) * 3600, CST).date()
        for i, v in enumerate((count, wh, billed, paid_fen)):
            days[day][i] += int(v or 0)
    out, day = [], date_from
    while day <= date_to:
        count, wh, billed, paid_fen = days.get(day, (0, 0, 0, 0))
        out.append({"date": day, "sessions": count, "energy_kwh": wh / 1000, "billed_fen": billed,
                    "paid_fen": paid_fen})
        day += timedelta(days=1)
    return {"days": out, "total_billed_fen": sum(d["billed_fen"] for d in out),
            "total_paid_fen": sum(d["paid_fen"] for d in out)}
