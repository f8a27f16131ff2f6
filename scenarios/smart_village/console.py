"""smart-village's staff console pages (``app.console``) for village committees: the
village's figures (the hall screen's summary) and notices and disclosures, with the form to
publish one (``/console/villages/<code>/notices``), and who has not confirmed an important one
(``/console/villages/notices/<id>/unconfirmed``) — the API's queries (``routes.notices_listed``)
and services (``service.publish``, ``service.summary``) loaded by the API's schema; visibility
first (``visible_object``: another village is the 404 page).
"""
from __future__ import annotations

from functools import cache

import sqlalchemy as sa
from flask import Blueprint, g, redirect, request, url_for
from werkzeug.datastructures import MultiDict

from app.api import PageArgs, paginate
from app.console.pages import NavItem, console_blueprint, form_args, render, requires
from app.context import current_clock
from app.db import get_session
from app.errors import ApiError
from app.places.models import Village
from app.places.service import local_date
from auth.visibility import load_visible, visible_object
from scenarios.smart_village import service as svc
from scenarios.smart_village.routes import NoticeInSchema, NoticeListArgs, notice_view, notices_listed

VILLAGE = "sv_village"


def _committee(p) -> bool:
    return p.is_staff and p.org_type == "village_committee"


@cache  # built once: its views are decorated once, whatever the apps
def blueprints() -> list[Blueprint]:
    """smart-village's ``console`` pages (named by ``SCENARIO.console``)."""
    nav = (NavItem("村务 · 通知公告", "console_smart_village.mine", _committee),)
    blp = console_blueprint("smart_village", __name__, url_prefix="/console/villages", template_folder="templates",
                            nav=nav)

    @blp.get("/mine")
    @requires(_committee)
    def mine():
        """The acting committee's village (the first, when it serves several)."""
        code = get_session().scalar(sa.select(Village.code).where(Village.committee_id == g.principal.org_id)
                                    .order_by(Village.code).limit(1))
        if code is None:
            raise ApiError("not_found")
        return redirect(url_for("console_smart_village.notices", code=code))

    @blp.route("/<code>/notices", methods=["GET", "POST"])
    @visible_object(VILLAGE, "code")
    def notices(code: str):
        """The village's notices, newest first; a POST publishes one (the API's rule: its committee's staff)."""
        session, clock = get_session(), current_clock()
        village = load_visible(session, g.principal, VILLAGE, code)
        if request.method == "POST":
            form = request.form.copy()
            form["important"] = "true" if form.get("important") == "true" else "false"
            notice = svc.publish(session, clock=clock, principal=g.principal, village=village,
                                 data=form_args(NoticeInSchema, lists=("attachments",), source=form))
            session.commit()
            return redirect(url_for("console_smart_village.notices", code=code, published=notice.id))
        source = MultiDict({"page_size": "30", **{k: v for k, v in request.args.items() if v.strip()}})
        args = form_args(NoticeListArgs, source=source)
        page = paginate(session, notices_listed(g.principal, village, kind=args.pop("kind"),
                                                unread=args.pop("unread")), args)
        return render("console/village/notices.html", village=village, kinds=svc.KIND_LABELS,
                      summary=svc.summary(session, clock=clock, village=village) if svc.is_committee(
                          g.principal, village) else None,
                      page=page, items=[notice_view(session, n, g.principal) for n in page["items"]],
                      kind=args.get("kind"), publishes=g.principal.is_staff and svc.is_committee(g.principal, village))

    @blp.get("/notices/<int:notice_id>/unconfirmed")
    @visible_object("sv_notice", "notice_id")
    @requires(_committee)
    def unconfirmed(notice_id: int):
        """The committee: villagers who have not confirmed an important notice (the API's query)."""
        session, clock = get_session(), current_clock()
        notice = load_visible(session, g.principal, "sv_notice", notice_id)
        if not notice.important:
            raise ApiError("notice_not_important")
        args = form_args(PageArgs, source=MultiDict({"page_size": "100", **{
            k: v for k, v in request.args.items() if v.strip()}}))
        page = paginate(session, svc.unconfirmed(notice, local_date(clock)), args, rows=True)
        return render("console/village/unconfirmed.html", notice=notice, page=page,
                      village=session.get(Village, notice.village_id),
                      items=svc.unconfirmed_view(session, page["items"]))

    return [blp]
