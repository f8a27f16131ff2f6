"""discharge-summary's console pages for a hospital's follow-up teams and doctors
(``/console/ds/…``): the hospital's summaries newest first (``/summaries``: the patient masked,
no health data), and a summary's page (``/summaries/<id>``) that shows the diagnosis, advice,
medicines and follow-ups only after the reader gives a reason — the API's ``service.read``,
which writes the audit entry before anything is shown (roles without clinical need: the 403
page; another hospital's summary: the 404 page). The follow-ups due and overdue are the
engine's queue (``/console/w/discharge-summary/queue``, ``overdue``/``due_soon`` filters); each
follow-up's ticket page links to its summary.
"""
from __future__ import annotations

from functools import cache
from typing import Any

from flask import Blueprint, g, request, url_for
from werkzeug.datastructures import MultiDict

from app.api import PageArgs, paginate
from app.console.pages import NavItem, console_blueprint, form_args, render, requires
from app.context import current_clock
from app.db import get_session
from app.errors import ApiError
from auth.principal import Principal
from auth.visibility import loaded, visible_object
from scenarios.discharge_summary import service
from scenarios.discharge_summary.config import CONFIG
from scenarios.discharge_summary.followups import KINDS
from scenarios.discharge_summary.presenters import summary_header, summary_view
from scenarios.discharge_summary.routes import SUBJECT
from scenarios.engines.workflow.console import add_ticket_link

PAGE_SIZE = 50


def _reads(p: Principal) -> bool:
    return service.reads(p) and p.org_type in CONFIG.extra.get("org_types", ())


def _summary_link(ticket: dict[str, Any]) -> tuple[str, str] | None:
    summary_id = (ticket.get("details") or {}).get("summary_id")
    if ticket.get("scenario") != CONFIG.slug or not isinstance(summary_id, int):
        return None
    return ("出院小结（查看内容需说明理由，将被记录）",
            url_for("console_discharge_summary.summary", summary_id=summary_id))


@cache  # built once: its views are decorated once, whatever the apps
def blueprints() -> list[Blueprint]:
    """discharge-summary's ``console`` pages (named by ``SCENARIO.console``)."""
    add_ticket_link(CONFIG, _summary_link)
    nav = (NavItem("出院小结 · 本院小结", "console_discharge_summary.summaries", _reads),)
    blp = console_blueprint("discharge_summary", __name__, url_prefix="/console/ds", template_folder="templates",
                            nav=nav)

    @blp.get("/summaries")
    @requires(_reads)
    def summaries():
        args = form_args(PageArgs, source=MultiDict({"page_size": str(PAGE_SIZE), **request.args.to_dict()}))
        session = get_session()
        page = paginate(session, service.published_by(g.principal.org_id), args)
        return render("console/discharge_summary/summaries.html", page=page,
                      items=[summary_header(session, s) for s in page["items"]])

    @blp.route("/summaries/<int:summary_id>", methods=["GET", "POST"])
    @visible_object(SUBJECT, "summary_id")
    def summary(summary_id: int):
        """Masked until a reason is given (POST): then the audited read, as the API's."""
        session, clock = get_session(), current_clock()
        found = loaded(SUBJECT)
        if not service.reads(g.principal):
            raise ApiError("forbidden")
        full = None
        if request.method == "POST":
            service.read(session, clock=clock, principal=g.principal, summary=found,
                         reason=request.form.get("reason"))
            full = summary_view(session, found, clock=clock)
            session.commit()
        return render("console/discharge_summary/summary.html", s=summary_header(session, found), full=full,
                      kinds=KINDS, queue=url_for("console_workflow.queue", slug=CONFIG.slug))

    return [blp]
