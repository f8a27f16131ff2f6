"""PostgreSQL fast path of the dispatch engine: a position report in one statement.

The plain path (``agents.report_position``: the ORM, portable) costs three round trips and the
unit of work: read the agent, insert the history row, update the latest. Drivers report every
few seconds, so the issue sets a position update at 0.4 of a bare ``/healthz``: here one
``UPDATE … RETURNING`` of the agent (the latest only when the report is not older than it)
feeds an ``INSERT`` of the encrypted history row in the same statement. When no row comes back
(no agent row, off duty) the caller takes the plain path, which says why (409, 403).
``tests/engines/dispatch/test_fastpath.py`` sends the same reports through both and compares
every row written and every answer.
"""
from __future__ import annotations

from datetime import datetime
from functools import cache
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.db import UTCDateTime
from scenarios.engines.dispatch.models import DispatchAgent, DispatchPosition


@cache
def _report_statement() -> sa.Select:
    """Built once (statement caches are ``functools.cache`` on a builder); parameters are named
    ``p_*``: in an UPDATE a parameter named like a column would be taken for its new value."""
    agents, history = DispatchAgent.__table__, DispatchPosition.__table__
    at = sa.bindparam("p_at", type_=UTCDateTime())
    newer = sa.or_(agents.c.position_at.is_(None), agents.c.position_at <= at)

    def latest(column: sa.Column, value: Any) -> sa.Case:
        return sa.case((newer, value), else_=column)

    agent = (sa.update(agents)
             .where(agents.c.scenario == sa.bindparam("p_scenario"), agents.c.account_id == sa.bindparam("p_account"),
                    agents.c.on_duty.is_(True))
             .values(lat=latest(agents.c.lat, sa.bindparam("p_lat", type_=sa.Float())),
                     lon=latest(agents.c.lon, sa.bindparam("p_lon", type_=sa.Float())),
                     outside_area=latest(agents.c.outside_area, sa.bindparam("p_outside", type_=sa.Boolean())),
                     updated_at=latest(agents.c.updated_at, sa.bindparam("p_now", type_=UTCDateTime())),
                     position_at=latest(agents.c.position_at, at))
             .returning(agents.c.id, agents.c.on_duty, agents.c.job_id, agents.c.lat, agents.c.lon,
                        agents.c.position_at, agents.c.outside_area)
             .cte("agent"))
    point = sa.bindparam("p_point", type_=history.c.point.type)
    written = (sa.insert(history).from_select(["agent_id", "at", "point"], sa.select(agent.c.id, at, point))
               .cte("written"))
    return sa.select(agent).add_cte(written)


def report_position(session: Session, *, scenario: str, account_id: int, lat: float, lon: float, at: datetime,
                    now: datetime, outside: bool) -> SimpleNamespace | None:
    """The report in one statement; the agent as it is now, or None (not an on-duty agent)."""
    row = session.execute(_report_statement(), {
        "p_scenario": scenario, "p_account": account_id, "p_lat": lat, "p_lon": lon, "p_at": at, "p_now": now,
        "p_outside": outside, "p_point": f"{lat:.6f},{lon:.6f}"}).one_or_none()
    return None if row is None else SimpleNamespace(**row._mapping)
