"""Per-organisation figures for a date range: counts, time to first response (median, p90),
breach rate and average rating. Percentiles are computed in Python (SQLite has none)."""
from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from app.fields import CST
from auth.organisations import Organisation
from auth.principal import Principal
from scenarios.engines.workflow.config import WorkflowConfig
from scenarios.engines.workflow.models import RESPONSE_PENDING, Ticket

MAX_RANGE_DAYS = 366


def percentile(values: Sequence[float], p: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(rank), math.ceil(rank)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


def _orgs_for(session: Session, principal: Principal, config: WorkflowConfig) -> list[Organisation]:
    if not principal.is_staff or principal.org_id is None:
        raise ApiError("forbidden")
    if principal.role in config.supervisor_roles:
        return list(session.scalars(sa.select(Organisation).where(Organisation.supervisor_id == principal.org_id)
                                    .order_by(Organisation.code)))
    if principal.is_district_admin:
        ids = sa.select(Ticket.org_id).where(Ticket.scenario == config.slug).distinct()
        return list(session.scalars(sa.select(Organisation).where(Organisation.id.in_(ids))
                                    .order_by(Organisation.code)))
    if principal.role in set(config.manager_roles) | set(config.dispatcher_roles):
        return [session.get(Organisation, principal.org_id)]
    raise ApiError("forbidden")


def summarise(rows: Sequence[Any], now: datetime) -> dict[str, Any]:
    counts = {k: 0 for k in ("total", "open", "resolved", "closed", "rejected", "duplicate")}
    response_seconds: list[float] = []
    breached = due = 0
    ratings: list[int] = []
    for r in rows:
        counts["total"] += 1
        if r.is_open:
            counts["open"] += 1
        if r.status in counts:
            counts[r.status] += 1
        if r.first_response_at is not None:
            response_seconds.append((r.first_response_at - r.created_at).total_seconds())
            due += 1
            breached += bool(r.response_breached)
        elif r.response_due_at is not None and r.response_due_at < now and r.status in RESPONSE_PENDING:
            due += 1
            breached += 1
        if r.rating is not None:
            ratings.append(r.rating)
    median, p90 = percentile(response_seconds, 50), percentile(response_seconds, 90)
    return {
        **counts,
        "responded": len(response_seconds),
        "first_response_median_seconds": round(median, 1) if median is not None else None,
        "first_response_p90_seconds": round(p90, 1) if p90 is not None else None,
        "breach_rate": round(breached / due, 4) if due else None,
        "rated": len(ratings),
        "average_rating": round(sum(ratings) / len(ratings), 2) if ratings else None,
    }


def stats(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, date_from: date,
          date_to: date, org_code: str | None = None) -> dict[str, Any]:
    """Tickets created from ``date_from`` to ``date_to`` (Beijing dates, inclusive), per organisation
    the caller may see: supervisors get every company they supervise, managers their own."""
    if date_to < date_from:
        raise ApiError("validation_error", errors={"to": ["结束日期不能早于开始日期。"]})
    if (date_to - date_from).days >= MAX_RANGE_DAYS:
        raise ApiError("validation_error", errors={"to": [f"时间范围最长 {MAX_RANGE_DAYS} 天。"]})
    orgs = _orgs_for(session, principal, config)
    if org_code is not None:
        orgs = [o for o in orgs if o.code == org_code]
        if not orgs:
            raise ApiError("not_found")
    start = datetime.combine(date_from, time(0), CST)
    end = datetime.combine(date_to + timedelta(days=1), time(0), CST)
    by_org: dict[int, list[Any]] = {o.id: [] for o in orgs}
    if by_org:
        rows = session.execute(
            sa.select(Ticket.org_id, Ticket.status, Ticket.is_open, Ticket.created_at, Ticket.first_response_at,
                      Ticket.response_due_at, Ticket.response_breached, Ticket.rating)
            .where(Ticket.scenario == config.slug, Ticket.org_id.in_(list(by_org)),
                   Ticket.created_at >= start, Ticket.created_at < end)).all()
        for r in rows:
            by_org[r.org_id].append(r)
    now = clock.now()
    return {
        "date_from": date_from,
        "date_to": date_to,
        "organisations": [{"org_code": o.code, "org_name": o.name, **summarise(by_org[o.id], now)} for o in orgs],
    }
