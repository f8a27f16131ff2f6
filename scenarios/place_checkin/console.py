"""place-checkin's staff console pages for venue operators (``app.console``): their places
(``/console/places``), a place's page (``/console/places/<code>``: its place-code link, the
poster downloaded as PNG or SVG — the API's ``poster_response`` —, the sentinels standing there,
put or taken away by managers; the organisation's devices are ``/console/orgs/<code>/devices``),
and the check-in flow per hour of a chosen Beijing day as an SVG chart and a table (counts
only: ``service.hourly_flow``, the API's ``/flow``). The API's services decide who: a place is
seen by its operator's staff only (``visible_object("checkin_place")``, 404 for anyone else),
changed by its managers (403)."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import cache

from flask import Blueprint, g, redirect, request, url_for

from app.api import PageArgs, paginate
from app.console.charts import bar_chart
from app.console.pages import NavItem, console_blueprint, form_args, render, requires
from app.context import current_clock
from app.db import get_session
from app.fields import CST
from auth.principal import Principal
from auth.roles import STAFF_MANAGERS
from auth.visibility import visible_object
from scenarios.place_checkin import service
from scenarios.place_checkin.kinds import PLACE_KINDS
from scenarios.place_checkin.routes import place_view, poster_response
from scenarios.place_checkin.schemas import PlaceCheckinFlowDayArgs, PlaceCheckinPosterArgs

OPERATOR_TYPE = "venue_operator"


def _operates(principal: Principal) -> bool:
    return principal.is_staff and principal.org_type == OPERATOR_TYPE


def _place(code: str):
    """The place as the API finds it for this caller (404 not theirs), its live link (issued
    again if it expired: committed)."""
    session = get_session()
    place = service.place_for_operator(session, g.principal, code)
    view = place_view(session, place, service.place_link(session, place, clock=current_clock()))
    session.commit()
    return place, view


@cache  # built once: its views are decorated once, whatever the apps
def blueprints() -> list[Blueprint]:
    """place-checkin's ``console`` pages (named by ``SCENARIO.console``)."""
    nav = (NavItem("场所码 · 我的场所", "console_place_checkin.places", _operates),)
    blp = console_blueprint("place_checkin", __name__, url_prefix="/console/places", template_folder="templates",
                            nav=nav)

    @blp.get("")
    @requires(_operates)
    def places():
        session = get_session()
        org = service.acting_org(session, g.principal)
        page = paginate(session, service.places_of(org.id), {**form_args(PageArgs), "page_size": 100})
        return render("console/places/list.html", page=page, items=page["items"], kinds=PLACE_KINDS, org=org)

    @blp.get("/<code>")
    @visible_object("checkin_place", "code")
    def place(code: str):
        found, view = _place(code)
        sentinels = service.sentinels_at(get_session(), found)
        return render("console/places/place.html", p=view, sentinels=sentinels,
                      manages=g.principal.role in STAFF_MANAGERS)

    @blp.get("/<code>/poster")
    @visible_object("checkin_place", "code")
    def poster(code: str):
        """The API's poster (``format=png|svg``), as a download."""
        return poster_response(get_session(), code, form_args(PlaceCheckinPosterArgs)["format"], download=True)

    @blp.get("/<code>/flow")
    @visible_object("checkin_place", "code")
    def flow(code: str):
        """Check-ins per hour of one Beijing day: the chart and the same figures as a table."""
        day = form_args(PlaceCheckinFlowDayArgs)["date"] or current_clock().now().astimezone(CST).date()
        found, view = _place(code)
        start = datetime.combine(day, time(), CST)
        start, end = service.flow_range(start, start + timedelta(days=1), clock=current_clock())
        hours = service.hourly_flow(get_session(), found, start, end)
        labels = [h["hour"].astimezone(CST).strftime("%H") for h in hours]
        chart = bar_chart(labels, {"签到人次": [h["count"] for h in hours]},
                          title=f"{view['name']} {day} 每小时签到人次")
        return render("console/places/flow.html", p=view, day=day, hours=hours, chart=chart,
                      total=sum(h["count"] for h in hours))

    @blp.post("/<code>/sentinels")
    @visible_object("checkin_place", "code")
    def bind(code: str):
        """Put one of the operator's sentinels at this place (managers; the API's ``PUT``)."""
        session = get_session()
        found = service.place_for_operator(session, g.principal, code, manage=True)
        service.bind_sentinel(session, found, request.form.get("device_id", "").strip(), clock=current_clock())
        session.commit()
        return redirect(url_for("console_place_checkin.place", code=code, done="bind"))

    @blp.post("/<code>/sentinels/<device_id>/remove")
    @visible_object("sentinel", "code", "device_id")
    def unbind(code: str, device_id: str):
        session = get_session()
        found = service.place_for_operator(session, g.principal, code, manage=True)
        service.unbind_sentinel(session, found, device_id)
        session.commit()
        return redirect(url_for("console_place_checkin.place", code=code, done="unbind"))

    return [blp]
