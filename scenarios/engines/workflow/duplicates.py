"""The duplicate hint of a new ticket: whether an open ticket of the same scenario and category
is already there, in the same building or within ``config.duplicate_radius_m`` of the same
point.

The hint says only that ("a similar report is already open for your building"): no id, no
number, no count, not even for the reporter's own tickets, so filing a report is no way to
learn about other residents' reports or how many there are."""
from __future__ import annotations

from functools import cache
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.geo import bounding_box, haversine_m
from scenarios.engines.workflow.config import WorkflowConfig
from scenarios.engines.workflow.models import Ticket

Scope = Literal["building", "nearby"]
MESSAGES: dict[str, str] = {
    "building": "您所在楼栋已有类似的报告正在处理中，无需重复提交。",
    "nearby": "附近已有类似的报告正在处理中，无需重复提交。",
}
NEARBY_CANDIDATES = 200


def _open_alike() -> sa.Select:
    """Other open tickets of the same scenario and category (parameters ``scenario``,
    ``category``, ``ticket_id``)."""
    return sa.select(Ticket.id, Ticket.lat, Ticket.lon).where(
        Ticket.scenario == sa.bindparam("scenario"), Ticket.category == sa.bindparam("category"),
        Ticket.is_open.is_(True), Ticket.id != sa.bindparam("ticket_id"))


@cache
def _same_building() -> sa.Select:
    """Built once: the hot path of filing (read in index order, ``ix_wf_tickets_building_category``)."""
    return _open_alike().where(Ticket.building_id == sa.bindparam("building_id")).limit(1)


def find(session: Session, *, config: WorkflowConfig, ticket: Ticket) -> Scope | None:
    """Where an open ticket like ``ticket`` is: in its building, else within the radius of its point."""
    params = {"scenario": config.slug, "category": ticket.category, "ticket_id": ticket.id}
    if ticket.building_id is not None:
        found = session.execute(_same_building(), {**params, "building_id": ticket.building_id}).first()
        return "building" if found is not None else None
    if ticket.lat is not None and ticket.lon is not None:
        min_lat, min_lon, max_lat, max_lon = bounding_box(ticket.lat, ticket.lon, config.duplicate_radius_m)
        rows = session.execute(_open_alike().where(Ticket.lat.between(min_lat, max_lat),
                                                   Ticket.lon.between(min_lon, max_lon))
                               .limit(NEARBY_CANDIDATES), params).all()
        if any(haversine_m(ticket.lat, ticket.lon, r.lat, r.lon) <= config.duplicate_radius_m for r in rows):
            return "nearby"
    return None


def hint(scope: Scope | None) -> dict[str, str] | None:
    """The answer's ``similar_report``: the scope and a sentence for the reporter, or None."""
    return {"scope": scope, "message": MESSAGES[scope]} if scope else None
