"""parcel-locker's console pages for locker operators (``/console/lockers/…``): their lockers
with each cell's state (``locker_view``, as ``GET /lockers``), their parcels oldest first —
stored, overdue (still stored past the 24-hour reminder), picked up, retrieved — with the
recipient's phone masked (``parcel_view``, as the API's), a parcel's page with its trail, and
the operator's action, retrieving an uncollected parcel with a reason (the API's ``ACTIONS``
row: ``retrieve`` and ``ParcelRetrieveSchema``). A parcel's id is behind ``visible_object``
(the operator's staff only: anyone else the 404 page)."""
from __future__ import annotations

from functools import cache

from flask import Blueprint, g, redirect, request, url_for
from werkzeug.datastructures import MultiDict

from app.api import paginate
from app.console.pages import NavItem, console_blueprint, form_args, render, requires
from app.context import current_clock
from app.db import get_session
from auth.principal import Principal
from auth.visibility import loaded, visible_object
from scenarios.parcel_locker import service as svc
from scenarios.parcel_locker.routes import ACTIONS
from scenarios.parcel_locker.schemas import ParcelListArgs
from scenarios.parcel_locker.views import locker_view, parcel_view

OPERATOR_TYPE = "locker_operator"
STATUSES = {"stored": "待取件", "picked_up": "已取件", "retrieved": "已取回"}
EVENTS = {"stored": "投递入柜", "proxy_named": "收件人指定亲属代取", "reminded": "超时提醒收件人",
          "operator_told": "超时通知运营方取回", "picked_up": "已取件", "retrieved": "运营方取回"}
PAGE_SIZE = 50
RETRIEVE = next(a for a in ACTIONS if a.path == "retrieve")


def _operates(p: Principal) -> bool:
    return p.is_staff and p.org_type == OPERATOR_TYPE


@cache  # built once: its views are decorated once, whatever the apps
def blueprints() -> list[Blueprint]:
    """parcel-locker's ``console`` pages (named by ``SCENARIO.console``)."""
    nav = (NavItem("快件箱 · 格口状态", "console_parcel_locker.lockers", _operates),
           NavItem("快件箱 · 快件", "console_parcel_locker.parcels", _operates))
    blp = console_blueprint("parcel_locker", __name__, url_prefix="/console/lockers", template_folder="templates",
                            nav=nav)

    @blp.get("/")
    @requires(_operates)
    def lockers():
        session = get_session()
        items = [locker_view(session, locker, code)
                 for locker, code in session.execute(svc.operator_lockers(g.principal.org_id))]
        return render("console/parcel_locker/lockers.html", items=items)

    @blp.get("/parcels")
    @requires(_operates)
    def parcels():
        query = MultiDict({"page_size": str(PAGE_SIZE), **{k: v for k, v in request.args.items() if v.strip()}})
        args = form_args(ParcelListArgs, source=query, skip=("overdue",))
        overdue = request.args.get("overdue") == "true"
        session, clock = get_session(), current_clock()
        stmt = svc.operator_parcels(g.principal.org_id, status=args.pop("status", None),
                                    overdue_at=clock.now() if overdue else None)
        page = paginate(session, stmt, args)
        items = [parcel_view(session, p, principal=g.principal, clock=clock) for p in page["items"]]
        return render("console/parcel_locker/parcels.html", page=page, items=items, statuses=STATUSES,
                      status=query.get("status", ""), overdue=overdue)

    @blp.get("/parcels/<int:parcel_id>")
    @visible_object(svc.SUBJECT, "parcel_id")
    def parcel(parcel_id: int):
        view = parcel_view(get_session(), loaded(svc.SUBJECT), principal=g.principal, clock=current_clock())
        return render("console/parcel_locker/parcel.html", p=view, statuses=STATUSES, events=EVENTS)

    @blp.post("/parcels/<int:parcel_id>/retrieve")
    @visible_object(svc.SUBJECT, "parcel_id")
    def retrieve(parcel_id: int):
        session = get_session()
        RETRIEVE.service(session, clock=current_clock(), principal=g.principal, parcel=loaded(svc.SUBJECT),
                         **form_args(RETRIEVE.schema))
        session.commit()
        return redirect(url_for("console_parcel_locker.parcel", parcel_id=parcel_id, done="retrieve"))

    return [blp]
