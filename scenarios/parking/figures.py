"""Operators' figures per car park and Beijing day: entries, exits, the peak occupancy counted,
reservations and no-shows, active contracts, fees, what was paid and what was left unpaid.
Operators see their car parks; 区交通委 and the district every one."""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.errors import ApiError
from app.fields import CST
from auth.principal import Principal
from scenarios.engines.booking.models import BkBooking
from scenarios.engines.telemetry import service as telemetry
from scenarios.parking.access import OVERSEERS
from scenarios.parking.config import TELEMETRY
from scenarios.parking.models import PkContract, PkDebt, PkLot, PkReservation, PkStay

MAX_DAYS = 62


def _day(when: datetime | None) -> date | None:
    return None if when is None else when.astimezone(CST).date()


def lots_of(session: Session, principal: Principal, code: str | None = None) -> list[PkLot]:
    """The car parks whose figures ``principal`` reads: an operator's own, the overseers' every one
    (403 for other staff); ``code``: only that one."""
    stmt = sa.select(PkLot).order_by(PkLot.code)
    if principal.org_code not in OVERSEERS:
        if principal.org_type != "parking_operator":
            raise ApiError("forbidden")
        stmt = stmt.where(PkLot.operator_id == principal.org_id)
    if code:
        stmt = stmt.where(PkLot.code == code)
    return list(session.scalars(stmt))


def daily(session: Session, *, principal: Principal, first: date, last: date, lot: str | None) -> list[dict[str, Any]]:
    if last < first or (last - first).days >= MAX_DAYS:
        raise ApiError("validation_error", errors={"date_to": [f"须不早于 date_from，且跨度不超过 {MAX_DAYS} 天。"]})
    chosen = lots_of(session, principal, lot)
    ids = [x.id for x in chosen]
    start = datetime.combine(first, time(0), CST)
    end = datetime.combine(last + timedelta(days=1), time(0), CST)
    rows: dict[tuple[int, date], dict[str, Any]] = defaultdict(lambda: {
        "entries": 0, "exits": 0, "reservations": 0, "no_shows": 0, "fees_fen": 0, "paid_fen": 0, "debts_fen": 0})
    for s in session.scalars(sa.select(PkStay).where(PkStay.lot_id.in_(ids), sa.or_(
            PkStay.entered_at.between(start, end), PkStay.exited_at.between(start, end)))):
        if s.entered_at is not None and start <= s.entered_at < end:
            rows[(s.lot_id, _day(s.entered_at))]["entries"] += 1
        if s.exited_at is not None and start <= s.exited_at < end and s.status != "inside":
            r = rows[(s.lot_id, _day(s.exited_at))]
            r["exits"] += 1
            r["fees_fen"] += s.fee_fen or 0
            r["paid_fen"] += min(s.paid_fen, s.fee_fen or 0)
    for d in session.scalars(sa.select(PkDebt).where(PkDebt.lot_id.in_(ids), PkDebt.created_at.between(start, end))):
        rows[(d.lot_id, _day(d.created_at))]["debts_fen"] += d.amount_fen
    for lot_id, arrive, status in session.execute(
            sa.select(PkReservation.lot_id, PkReservation.arrive_from, BkBooking.status)
            .join(BkBooking, BkBooking.id == PkReservation.booking_id)
            .where(PkReservation.lot_id.in_(ids), PkReservation.arrive_from.between(start, end))):
        r = rows[(lot_id, _day(arrive))]
        r["reservations"] += 1
        r["no_shows"] += status == "no_show"
    contracts = session.execute(sa.select(PkContract.lot_id, PkContract.starts_on, PkContract.ends_on).where(
        PkContract.lot_id.in_(ids), PkContract.status == "active", PkContract.starts_on <= last,
        PkContract.ends_on >= first)).all()
    peaks = _peaks(session, ids, start, end)
    codes = {x.id: x.code for x in chosen}
    out = []
    for lot_id in ids:
        day = first
        while day <= last:
            r = rows.get((lot_id, day), rows.default_factory())
            active = sum(1 for c in contracts if c.lot_id == lot_id and c.starts_on <= day <= c.ends_on)
            out.append({"lot": codes[lot_id], "date": day, **r, "contracts_active": active,
                        "occupancy_peak": peaks.get((lot_id, day))})
            day += timedelta(days=1)
    return out


def _peaks(session: Session, lot_ids: list[int], start: datetime, end: datetime) -> dict[tuple[int, date], int]:
    """The most cars counted inside per lot and day, from the telemetry engine's history."""
    peaks: dict[tuple[int, date], int] = {}
    for lot_id, at, value in telemetry.history(session, config=TELEMETRY, kind="occupancy", subject_ids=lot_ids,
                                               since=start, until=end):
        key = (lot_id, _day(at))
        peaks[key] = max(peaks.get(key, 0), int(value["occupied"]))
    return peaks
