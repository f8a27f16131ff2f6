"""city-report's own console page: 区城运中心's routing desk (``/console/city-report/routing``).

The engine's pages do the rest (``scenarios/engines/workflow/console.py``): the queue of each
bureau and town that receives reports, the ticket page with its actions, the supervisors'
escalated tickets, and the moderation queue (``app/console/moderation.py``). This page shows
城运中心 what it would open every morning: the reports it still holds — waiting for moderation,
or cleared with no department by category (``其他``) — and those it routed that are still open,
with a form to route or re-route each to a bureau or town: the API's ``transfer`` action (the
engine's ``act`` view, the same service, rules and refusals), offered only where the API would
allow it on that ticket.
"""
from __future__ import annotations

from functools import cache
from typing import Any

from flask import Blueprint, g, url_for
from sqlalchemy.orm import Session

from app.console.pages import NavItem, console_blueprint, render, requires
from app.context import current_clock
from app.db import get_session
from auth.principal import Principal
from scenarios.city_report.policy import CITY_OPS
from scenarios.engines.workflow import export
from scenarios.engines.workflow import service as svc
from scenarios.engines.workflow.access import access_to
from scenarios.engines.workflow.config import WorkflowConfig, config_for
from scenarios.engines.workflow.models import Ticket
from scenarios.engines.workflow.presenters import summaries
from scenarios.engines.workflow.routing import transfer_targets

SLUG = "city-report"
LIMIT = 200
"""Rows per list: 城运中心 holds a few dozen reports at a time; more is a backlog to page through the queue."""


def _routes(p: Principal) -> bool:
    """Staff of 城运中心 who work its reports (the scenario's handler roles)."""
    config = config_for(SLUG)
    return p.is_staff and p.org_code == CITY_OPS and config is not None and p.role in config.handler_roles


def _rows(session: Session, config: WorkflowConfig, stmt: Any) -> list[dict[str, Any]]:
    """The tickets of ``stmt`` as list items, each with whether this caller may transfer it now
    (the transition table for their access, and not while the content waits for review)."""
    tickets = list(session.scalars(stmt.limit(LIMIT)))
    rows = summaries(session, tickets, now=current_clock().now())
    for ticket, row in zip(tickets, rows, strict=True):
        actors = access_to(session, g.principal, ticket, config).actors
        row["can_transfer"] = (ticket.moderation_state != "pending"
                               and "transfer" in config.table.available(ticket.status, actors))
    return rows


@cache  # built once: its views are decorated once, whatever the apps
def blueprints() -> list[Blueprint]:
    """city-report's ``console`` pages (named by ``SCENARIO.console``)."""
    nav = (NavItem("随申拍 · 分拨", "console_city_report.routing", _routes),)
    blp = console_blueprint("city_report", __name__, url_prefix="/console/city-report", template_folder="templates",
                            nav=nav)

    @blp.get("/routing")
    @requires(_routes)
    def routing():
        config = config_for(SLUG)
        session, clock = get_session(), current_clock()
        held = svc.queue(session, clock=clock, principal=g.principal, config=config, sort="created")
        routed = svc.queue(session, clock=clock, principal=g.principal, config=config, dispatched=True,
                           sort="-created").where(Ticket.org_id != g.principal.org_id)
        return render("console/city_report/routing.html", config=config, held=_rows(session, config, held),
                      routed=_rows(session, config, routed), targets=transfer_targets(session, config),
                      statuses=export.STATUS_TITLES, back=url_for("console_city_report.routing"))

    return [blp]
