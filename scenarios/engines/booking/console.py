"""The booking engine's staff console pages (``app.console``), for every booking scenario:
the day page of a venue's or hospital's desk (``/console/b/<slug>/day``: each resource's slots
with capacity, bookings and holds, the day's bookings with masked names, the gate's check-in by
a scanned code), closing a slot and closing a whole day (a doctor's absence).

Each form runs the API's own service (``admission.admit``, ``service.close_slot``,
``service.close_day``) loaded by the API's schema; visibility first (``visible_object``), then
the object must be of the page's scenario, as in the API.
"""
from __future__ import annotations

from functools import cache
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, g, redirect, request, url_for
from werkzeug.datastructures import MultiDict

from app.console.pages import NavItem, console_blueprint, form_args, render, requires
from app.context import current_clock
from app.db import get_session
from app.errors import ApiError
from auth.principal import Principal
from auth.visibility import visible_object
from qr.tokens import QrError
from scenarios.engines.booking import admission, resources
from scenarios.engines.booking import service as svc
from scenarios.engines.booking.config import CONFIGS, BookingConfig, config_for
from scenarios.engines.booking.models import BkResource
from scenarios.engines.booking.routes import _of_scenario
from scenarios.engines.booking.schemas import (
    BookingCheckInSchema,
    BookingCloseDaySchema,
    BookingCloseSlotSchema,
    BookingOccupancyArgs,
)
from scenarios.engines.booking.visibility import register_object_types

STATUSES = {"held": "待确认", "confirmed": "已预约", "checked_in": "已签到", "cancelled": "已取消", "expired": "已过期",
            "no_show": "爽约"}


def _config(slug: str) -> BookingConfig:
    config = config_for(slug)
    if config is None:
        raise ApiError("not_found")
    return config


def _owned_scenarios(p: Principal) -> frozenset[str]:
    """The booking scenarios the principal's organisation owns resources in (one query a request,
    whatever the number of scenarios: every console page draws the navigation)."""
    if not p.is_staff or p.org_id is None:
        return frozenset()
    if "_booking_owned" not in g:
        g._booking_owned = frozenset(get_session().scalars(
            sa.select(BkResource.scenario).where(BkResource.owner_org_id == p.org_id).distinct()))
    return g._booking_owned


def _owns_resources(config: BookingConfig):
    """Staff of an organisation owning a resource of the scenario."""
    return lambda p: config.slug in _owned_scenarios(p)


def _day_page(config: BookingConfig, **extra: Any) -> str:
    today = svc.local_day(current_clock().now())
    args = form_args(BookingOccupancyArgs, source=MultiDict({"date": request.args.get("date") or today.isoformat()}))
    session, now = get_session(), current_clock().now()
    return render("console/booking/day.html", config=config, day=args["date"], statuses=STATUSES,
                  occupancy=resources.occupancy(session, principal=g.principal, config=config, day=args["date"],
                                                now=now),
                  bookings=resources.day_bookings(session, principal=g.principal, config=config, day=args["date"]),
                  manages=g.principal.role in config.manager_roles, **extra)


def _back(slug: str, **values: Any) -> Any:
    return redirect(url_for("console_booking.day", slug=slug, **values))


@cache  # built once: its views are decorated once, whatever the apps
def blueprints() -> list[Blueprint]:
    """The engine's ``console`` pages (named by ``ENGINE.console``)."""
    register_object_types()
    nav = tuple(NavItem(f"{config.title_zh} · 今日预约", "console_booking.day", _owns_resources(config), {"slug": slug})
                for slug, config in sorted(CONFIGS.items()))
    blp = console_blueprint("booking", __name__, template_folder="templates", nav=nav)

    @blp.get("/b/<slug>/day")
    @requires(lambda p: p.is_staff)
    def day(slug: str):
        return _day_page(_config(slug))

    @blp.post("/b/<slug>/check-in")
    @requires(lambda p: p.is_staff)
    def check_in(slug: str):
        """The gate's check-in (``POST /check-ins``): a scanned pass or personal code, typed or pasted."""
        config = _config(slug)
        session = get_session()
        token = form_args(BookingCheckInSchema)["token"]
        try:
            result = admission.admit(session, clock=current_clock(), principal=g.principal, config=config,
                                     token=token)
        except QrError:
            session.commit()  # the rejected scan is kept, as in the API
            raise
        session.commit()
        return _back(slug, date=svc.local_day(result.slot.starts_at).isoformat(), admitted=result.booking.id)

    @blp.post("/b/<slug>/slots/<int:slot_id>/close")
    @visible_object("bk_slot", "slot_id")
    def close_slot(slug: str, slot_id: int):
        """Close a slot (the owner's managers): its bookings are cancelled and their people told."""
        config = _config(slug)
        session = get_session()
        slot = svc.close_slot(session, clock=current_clock(), principal=g.principal, config=config,
                              slot=_of_scenario(config, "bk_slot"), reason=form_args(BookingCloseSlotSchema)["reason"])
        session.commit()
        return _back(slug, date=svc.local_day(slot.starts_at).isoformat(), closed=slot.id)

    @blp.post("/b/<slug>/resources/<code>/close-day")
    @visible_object("bk_resource", "code")
    def close_day(slug: str, code: str):
        """Close a whole day of a resource (a doctor's absence): every open slot, its bookings cancelled."""
        config = _config(slug)
        session = get_session()
        args = form_args(BookingCloseDaySchema)
        closed = svc.close_day(session, clock=current_clock(), principal=g.principal, config=config,
                               resource=_of_scenario(config, "bk_resource"), day=args["date"], reason=args["reason"])
        session.commit()
        return _back(slug, date=args["date"].isoformat(), closed_day=closed)

    return [blp]
