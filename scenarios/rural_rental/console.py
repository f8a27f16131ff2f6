"""rural-rental's staff console pages (``app.console``) for village committees: their
village's houses by state with the inspections due (``/console/rr/houses``), the inspections
coming due and the houses awaiting their first one (``/console/rr/inspections``), a house with
its rooms and masked tenants and the inspection form, the tenancies to approve (租前审批: approve
or reject, the approval engine's own actions), and a day's arrivals and departures
(``/console/rr/stays``: 人来登记 / 人走注销 by the tenant's ID number, tenants shown masked).

The lists are the API's queries (``routes.houses_listed``, ``routes.tenancies_listed``), the
forms the API's services (``service.inspect``, the approval engine's ``ACTIONS``) loaded by
the API's schemas; visibility first (``visible_object``).
"""
from __future__ import annotations

from datetime import date, timedelta
from functools import cache
from typing import Any

from flask import Blueprint, g, redirect, request, url_for
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from app.api import paginate
from app.console.pages import NavItem, console_blueprint, form_args, render, requires
from app.context import current_clock
from app.db import get_session
from app.errors import ApiError
from app.places.service import local_date
from auth.visibility import load_visible, visible_object
from scenarios.engines.approval.actions import ACTIONS as APPROVAL_ACTIONS
from scenarios.engines.approval.models import ApApplication
from scenarios.rural_rental import CONFIG, TENANCY, stays
from scenarios.rural_rental import service as svc
from scenarios.rural_rental.models import RrHouse, RrTenancy
from scenarios.rural_rental.routes import house_view, houses_listed, tenancies_listed, tenancy_view
from scenarios.rural_rental.schemas import HouseListArgs, InspectionSchema, TenancyListArgs, TenantIdentitySchema

HOUSE_STATES = {"registered": "待检查", "approved": "已通过", "suspended": "已暂停"}
TENANCY_STATES = {"pending": "待审批", "approved": "已批准", "rejected": "未批准", "withdrawn": "已撤回",
                  "ended": "已结束"}
CHECKLIST_TITLES = {"extinguisher": "灭火器", "smoke_alarm": "烟感报警器", "wiring": "电线线路", "gas": "燃气",
                    "escape_route": "逃生通道", "area_and_occupancy": "面积与居住人数"}
DECISIONS = {action.path: action for action in APPROVAL_ACTIONS if action.path in ("approve", "reject")}
PAGE_SIZE = 50
DUE_WITHIN_DAYS = 30
STAY_ACTIONS = {"arrivals": stays.arrive, "departures": stays.depart}


def _committee(p) -> bool:
    return p.is_staff and p.org_type == "village_committee"


def _list_args(schema: type, **defaults: str) -> dict[str, Any]:
    source = MultiDict({"page_size": str(PAGE_SIZE), **defaults,
                        **{k: v for k, v in request.args.items() if v.strip()}})
    return form_args(schema, source=source)


def _inspection_form() -> dict[str, Any]:
    """The form as the API's ``InspectionSchema`` takes it: each checklist item ticked or not."""
    data: dict[str, Any] = {"checklist": {item: request.form.get(item) == "true" for item in svc.CHECKLIST}}
    if request.form.get("next_on", "").strip():
        data["next_on"] = request.form["next_on"].strip()
    try:
        return InspectionSchema().load(data)
    except ValidationError as exc:
        raise ApiError("validation_error", errors={k: v if isinstance(v, list) else [str(v)]
                                                   for k, v in exc.messages.items()}) from exc


def _day(text: str | None, today: date) -> date:
    """``?on=YYYY-MM-DD`` (today when absent); anything else is a 422, never a 500."""
    if not text or not text.strip():
        return today
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise ApiError("validation_error", errors={"on": ["日期格式应为 YYYY-MM-DD"]}) from exc


@cache  # built once: its views are decorated once, whatever the apps
def blueprints() -> list[Blueprint]:
    """rural-rental's ``console`` pages (named by ``SCENARIO.console``)."""
    nav = (NavItem("出租房屋 · 房屋与检查", "console_rural_rental.houses", _committee),
           NavItem("出租房屋 · 检查到期", "console_rural_rental.inspections", _committee),
           NavItem("出租房屋 · 租前审批", "console_rural_rental.tenancies", _committee),
           NavItem("出租房屋 · 入住与退房", "console_rural_rental.stays_of_day", _committee))
    blp = console_blueprint("rural_rental", __name__, url_prefix="/console/rr", template_folder="templates", nav=nav)

    @blp.get("/houses")
    @requires(_committee)
    def houses():
        args = _list_args(HouseListArgs)
        session = get_session()
        page = paginate(session, houses_listed(g.principal, state=args.pop("state"),
                                               due=args.pop("inspection_due_by")), args)
        today = local_date(current_clock())
        return render("console/rr/houses.html", page=page, states=HOUSE_STATES, today=today,
                      soon=today + timedelta(days=30), args=request.args,
                      items=[house_view(session, h, with_tenants=False) for h in page["items"]])

    @blp.get("/inspections")
    @requires(_committee)
    def inspections():
        """Inspections due within ``DUE_WITHIN_DAYS`` (overdue first), and houses never inspected."""
        session = get_session()
        today = local_date(current_clock())
        args = {"page": 1, "page_size": PAGE_SIZE}
        due = paginate(session, houses_listed(g.principal, due=today + timedelta(days=DUE_WITHIN_DAYS)), args)
        first = paginate(session, houses_listed(g.principal, state="registered"), dict(args))
        return render("console/rr/inspections.html", today=today, days=DUE_WITHIN_DAYS, states=HOUSE_STATES,
                      due=due, first=first,
                      due_items=[house_view(session, h, with_tenants=False) for h in due["items"]],
                      first_items=[house_view(session, h, with_tenants=False) for h in first["items"]])

    @blp.get("/stays")
    @requires(_committee)
    def stays_of_day():
        """A day's arrivals (approved tenancies starting) and departures (ending), tenants masked."""
        session = get_session()
        today = local_date(current_clock())
        day = _day(request.args.get("on"), today)
        found = session.scalars(tenancies_listed(g.principal).where(stays.moving_on(day))).all()
        tenants = stays.tenants_of(session, list(found))
        rows = [{**tenancy_view(session, t), "house": session.get(RrHouse, t.house_id), "tenants": tenants[t.id]}
                for t in found]
        return render("console/rr/stays.html", day=day, today=today, prev=day - timedelta(days=1),
                      next=day + timedelta(days=1), arrivals=[r for r in rows if r["starts_on"] == day],
                      departures=[r for r in rows if r["ends_on"] == day])

    @blp.post("/tenancies/<int:tenancy_id>/stay/<path>")
    @visible_object("rr_tenancy", "tenancy_id")
    def register_stay(tenancy_id: int, path: str):
        """人来登记 / 人走注销 (``path``: arrivals, departures): the API's ``arrive`` / ``depart``
        with the tenant's ID number."""
        service = STAY_ACTIONS.get(path)
        if service is None:
            raise ApiError("not_found")
        session = get_session()
        tenancy: RrTenancy = load_visible(session, g.principal, "rr_tenancy", tenancy_id)
        data = form_args(TenantIdentitySchema, skip=("on",))
        if not data.get("id_number"):
            raise ApiError("validation_error", errors={"id_number": ["请填写租客的身份证号"]})
        service(session, clock=current_clock(), principal=g.principal, tenancy=tenancy, data=data)
        session.commit()
        return redirect(url_for("console_rural_rental.stays_of_day", on=request.form.get("on") or None,
                                registered=f"{path}-{tenancy_id}"))

    @blp.get("/houses/<int:house_id>")
    @visible_object("rr_house", "house_id")
    def house(house_id: int):
        session = get_session()
        found = load_visible(session, g.principal, "rr_house", house_id)
        return render("console/rr/house.html", h=house_view(session, found), states=HOUSE_STATES,
                      checklist=CHECKLIST_TITLES, inspects=svc.is_committee(session, g.principal, found))

    @blp.post("/houses/<int:house_id>/inspect")
    @visible_object("rr_house", "house_id")
    def inspect(house_id: int):
        """The API's inspection: every item ticked passes; a failure suspends the house."""
        session = get_session()
        found = load_visible(session, g.principal, "rr_house", house_id)
        done = svc.inspect(session, clock=current_clock(), principal=g.principal, config=CONFIG, house=found,
                           data=_inspection_form())
        session.commit()
        return redirect(url_for("console_rural_rental.house", house_id=house_id,
                                inspected="passed" if done.passed else "failed"))

    @blp.get("/tenancies")
    @requires(_committee)
    def tenancies():
        args = _list_args(TenancyListArgs, state="pending")
        session = get_session()
        page = paginate(session, tenancies_listed(g.principal, state=args.pop("state"),
                                                  overstaying=args.pop("overstaying")), args)
        items = [{**tenancy_view(session, t), "house": session.get(RrHouse, t.house_id)} for t in page["items"]]
        return render("console/rr/tenancies.html", page=page, items=items, states=TENANCY_STATES,
                      state=request.args.get("state", "pending"))

    @blp.post("/tenancies/<int:tenancy_id>/<path>")
    @visible_object("rr_tenancy", "tenancy_id")
    def decide(tenancy_id: int, path: str):
        """租前审批: the approval engine's approve or reject (``path``) of the tenancy's application."""
        action = DECISIONS.get(path)
        if action is None:
            raise ApiError("not_found")
        session = get_session()
        tenancy: RrTenancy = load_visible(session, g.principal, "rr_tenancy", tenancy_id)
        application = session.get(ApApplication, tenancy.application_id) if tenancy.application_id else None
        if application is None:
            raise ApiError("not_found")
        form = request.form
        data: dict[str, Any] = {"note": form.get("note", "").strip() or None}
        if path == "reject":
            message = form.get("message", "").strip()
            data["reasons"] = [{"reason": "committee_review", "message": message}] if message else []
        try:
            args = action.schema().load(data)
        except ValidationError as exc:
            raise ApiError("validation_error", errors={"message": ["请写明不予批准的理由。"]}) from exc
        action.service(session, clock=current_clock(), principal=g.principal, config=TENANCY,
                       application=application, **args)
        session.commit()
        return redirect(url_for("console_rural_rental.tenancies", decided=tenancy_id))

    return [blp]
