"""The duplicate hint of a new ticket: open tickets of the same scenario and category in the
same building, or within ``config.duplicate_radius_m`` of the same point (ids and numbers)."""
from __future__ import annotations

from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.geo import bounding_box, haversine_m
from scenarios.engines.workflow.config import WorkflowConfig
from scenarios.engines.workflow.models import Ticket

MAX_HINTS = 5


def _open_alike() -> sa.Select:
    """Other open tickets of the same scenario and category (parameters ``scenario``,
    ``category``, ``ticket_id``)."""
    return sa.select(Ticket.id, Ticket.number, Ticket.lat, Ticket.lon).where(
        Ticket.scenario == sa.bindparam("scenario"), Ticket.category == sa.bindparam("category"),
        Ticket.is_open.is_(True), Ticket.id != sa.bindparam("ticket_id"))


@cache
def _same_building() -> sa.Select:
    """Built once: the hot path of filing (read in index order, ``ix_wf_tickets_building_category``)."""
    return (_open_alike().where(Ticket.building_id == sa.bindparam("building_id"))
            .order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(MAX_HINTS))


def find(session: Session, *, config: WorkflowConfig, ticket: Ticket) -> list[dict[str, Any]]:
    """Open tickets like ``ticket``: in its building, else within the radius of its point."""
    params = {"scenario": config.slug, "category": ticket.category, "ticket_id": ticket.id}
    if ticket.building_id is not None:
        rows = session.execute(_same_building(), {**params, "building_id": ticket.building_id}).all()
        return [{"id": r.id, "number": r.number} for r in rows]
    if ticket.lat is not None and ticket.lon is not None:
        min_lat, min_lon, max_lat, max_lon = bounding_box(ticket.lat, ticket.lon, config.duplicate_radius_m)
        rows = session.execute(_open_alike().where(Ticket.lat.between(min_lat, max_lat),
                                                   Ticket.lon.between(min_lon, max_lon))
                               .order_by(Ticket.created_at.desc()).limit(200), params).all()
        near = [r for r in rows if haversine_m(ticket.lat, ticket.lon, r.lat, r.lon) <= config.duplicate_radius_m]
        return [{"id": r.id, "number": r.number} for r in near[:MAX_HINTS]]
    return []
