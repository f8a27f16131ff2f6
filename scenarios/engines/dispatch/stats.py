"""Figures per area (a community) and day (Beijing time): requests, how many an agent accepted,
the served share, the median wait from request to acceptance and to the agent's arrival.
Medians are computed in Python (SQLite has no percentile). Seen by the scenario's overseers
(``overseer_orgs``: the taxi's 区交通委) and the district."""
from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.errors import ApiError
from app.fields import CST
from auth.principal import Principal
from scenarios.engines.dispatch.config import DispatchConfig
from scenarios.engines.dispatch.models import DispatchJob

MAX_DAYS = 92


def may_see_stats(principal: Principal, config: DispatchConfig) -> bool:
    return principal.is_staff and (principal.org_type == "district" or principal.org_code in config.overseer_orgs)


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def stats(session: Session, *, principal: Principal, config: DispatchConfig, date_from: date, date_to: date,
          area: str | None = None) -> list[dict[str, Any]]:
    if not may_see_stats(principal, config):
        raise ApiError("forbidden")
    if date_to < date_from or (date_to - date_from).days >= MAX_DAYS:
        raise ApiError("validation_error", errors={"date_to": [f"须不早于 date_from，且跨度不超过 {MAX_DAYS} 天。"]})
    start = datetime.combine(date_from, time(), CST)
    end = datetime.combine(date_to + timedelta(days=1), time(), CST)
    stmt = sa.select(DispatchJob.area, DispatchJob.created_at, DispatchJob.accepted_at, DispatchJob.arrived_at).where(
        DispatchJob.scenario == config.slug, DispatchJob.created_at >= start, DispatchJob.created_at < end)
    if area:
        stmt = stmt.where(DispatchJob.area == area)
    groups: dict[tuple[str, date], list[Any]] = defaultdict(list)
    for row in session.execute(stmt):
        groups[(row.area, row.created_at.astimezone(CST).date())].append(row)
    out = []
    for (area_code, day), rows in sorted(groups.items()):
        accepted = [(r.accepted_at - r.created_at).total_seconds() for r in rows if r.accepted_at]
        pickup = [(r.arrived_at - r.created_at).total_seconds() for r in rows if r.arrived_at]
        out.append({"area": area_code, "day": day, "requests": len(rows), "served": len(accepted),
                    "served_share": round(len(accepted) / len(rows), 4),
                    "median_wait_accept_s": _median(accepted), "median_wait_pickup_s": _median(pickup)})
    return out
