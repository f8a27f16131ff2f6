"""online-consult's own console page for a hospital's doctors: a consultation's request — the
symptoms and the prescription asked for, health data kept encrypted — shown only after the
doctor gives a reason (``/console/consult/tickets/<id>/request``: the API's
``service.read_request``, which writes the audit entry first). The consultations waiting for a
doctor are the engine's queue (``/console/w/online-consult/queue``), and the answer is on the
engine's ticket page: renew (the medicines, within each one's limits) or ask the patient to
come in — the API's actions; the ticket page links here.
"""
from __future__ import annotations

from functools import cache
from typing import Any

from flask import Blueprint, g, request, url_for

from app.console.pages import console_blueprint, render
from app.context import current_clock
from app.db import get_session
from app.errors import ApiError
from auth.visibility import loaded, visible_object
from scenarios.engines.workflow.console import add_ticket_link
from scenarios.engines.workflow.models import SUBJECT
from scenarios.online_consult import CONFIG, service
from scenarios.online_consult.routes import consult_of


def _request_link(ticket: dict[str, Any]) -> tuple[str, str] | None:
    if ticket.get("scenario") != CONFIG.slug:
        return None
    return ("病情与续方申请（查看需说明理由，将被记录）",
            url_for("console_online_consult.consult_request", ticket_id=ticket["id"]))


@cache  # built once: its views are decorated once, whatever the apps
def blueprints() -> list[Blueprint]:
    """online-consult's ``console`` pages (named by ``SCENARIO.console``)."""
    add_ticket_link(CONFIG, _request_link)
    blp = console_blueprint("online_consult", __name__, url_prefix="/console/consult", template_folder="templates")

    @blp.route("/tickets/<int:ticket_id>/request", methods=["GET", "POST"], endpoint="consult_request")
    @visible_object(SUBJECT, "ticket_id")
    def consult_request(ticket_id: int):
        """Masked until a reason is given (POST): then the audited read, as the API's."""
        session = get_session()
        ticket = loaded(SUBJECT)
        consult = consult_of(ticket)
        shown = None
        if request.method == "POST":
            shown = service.read_request(session, clock=current_clock(), principal=g.principal, ticket=ticket,
                                         consult=consult, reason=request.form.get("reason"))
            session.commit()
        elif not service.reads_request(g.principal, ticket):
            raise ApiError("forbidden")
        return render("console/online_consult/request.html", ticket=ticket, consult=consult, shown=shown)

    return [blp]
