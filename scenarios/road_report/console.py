"""road-report's own console page: 区交通委's road notices (``/console/road-report/notices``):
the notices not withdrawn, newest first (``active`` only those in effect today), a form to
publish one for a road and a button to withdraw each — the API's ``notices.listing``,
``publish`` (``NoticeCreateSchema``) and ``withdraw``, with their rules and refusals. The
reports themselves are the engine's queue and ticket pages (区交通委 and the road chiefs).
"""
from __future__ import annotations

from functools import cache

from flask import Blueprint, g, redirect, request, url_for
from werkzeug.datastructures import MultiDict

from app.api import paginate
from app.console.pages import NavItem, console_blueprint, form_args, render, requires
from app.context import current_clock
from app.db import get_session
from app.fields import CST
from auth.principal import Principal
from auth.visibility import visible_object
from scenarios.road_report import notices
from scenarios.road_report.policy import TRANSPORT
from scenarios.road_report.roads import active_roads
from scenarios.road_report.schemas import NoticeArgsSchema, NoticeCreateSchema

KINDS = {"closure": "封路", "works": "施工", "detour": "绕行"}
PAGE_SIZE = 50


def _publishes(p: Principal) -> bool:
    """区交通委's publishing roles (``notices.PUBLISHERS``); the service checks again."""
    return p.is_staff and p.org_code == TRANSPORT and p.role in notices.PUBLISHERS


@cache  # built once: its views are decorated once, whatever the apps
def blueprints() -> list[Blueprint]:
    """road-report's ``console`` pages (named by ``SCENARIO.console``)."""
    nav = (NavItem("智慧路长 · 道路公告", "console_road_report.notices", _publishes),)
    blp = console_blueprint("road_report", __name__, url_prefix="/console/road-report", template_folder="templates",
                            nav=nav)

    @blp.route("/notices", methods=["GET", "POST"], endpoint="notices")
    @requires(_publishes)
    def notices_page():
        session, clock = get_session(), current_clock()
        if request.method == "POST":
            notice = notices.publish(session, clock=clock, principal=g.principal, **form_args(NoticeCreateSchema))
            session.commit()
            return redirect(url_for("console_road_report.notices", published=notice.id))
        query = MultiDict({"page_size": str(PAGE_SIZE), **{k: v for k, v in request.args.items() if v.strip()}})
        args = form_args(NoticeArgsSchema, source=query, skip=("published", "withdrawn"))
        stmt = notices.listing(session, clock=clock, road=args.pop("road", None), active=args.pop("active"))
        page = paginate(session, stmt, args)
        items = notices.views(session, list(page["items"]))
        return render("console/road_report/notices.html", page=page, items=items, kinds=KINDS,
                      roads=session.scalars(active_roads()).all(), active=request.args.get("active") == "true",
                      today=clock.now().astimezone(CST).date().isoformat())

    @blp.post("/notices/<int:notice_id>/withdraw")
    @visible_object("road_notice", "notice_id")
    def withdraw(notice_id: int):
        session = get_session()
        notices.withdraw(session, clock=current_clock(), principal=g.principal, notice_id=notice_id)
        session.commit()
        return redirect(url_for("console_road_report.notices", withdrawn=notice_id))

    return [blp]
