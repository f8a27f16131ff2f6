"""HTTP API of a booking scenario, mounted at ``/api/v1/<slug>``, built from its config.

Residents: resources, availability, ``POST /bookings`` (``Idempotency-Key``), a booking, the
actions of ``actions.ACTIONS`` on it, joining a slot's waitlist. The owner's staff: creating
resources, closing a slot, occupancy per day. Gates (devices, staff): ``POST /check-ins``.
Views build their answer, then commit (see the workflow engine's routes for why).
"""
from __future__ import annotations

import json
from collections.abc import Callable

import sqlalchemy as sa
from flask import Response
from flask.views import MethodView

from app.api import Blueprint, ErrorSchema, page_of, paginate
from app.context import current_clock
from app.db import get_session
from app.errors import ApiError
from app.idempotency import idempotent
from auth.organisations import Organisation
from auth.principal import current_principal, require_auth, require_resident, require_staff
from auth.visibility import loaded, visible_object
from qr.tokens import QrError
from scenarios.engines.booking import admission, resources
from scenarios.engines.booking import service as svc
from scenarios.engines.booking.actions import ACTIONS, Action
from scenarios.engines.booking.config import BookingConfig
from scenarios.engines.booking.models import SUBJECT, BkWaitlistEntry
from scenarios.engines.booking.presenters import booking_view, resource_view
from scenarios.engines.booking.schemas import (
    BookingAdmittedSchema,
    BookingAvailabilityArgs,
    BookingAvailabilitySchema,
    BookingCheckInSchema,
    BookingCloseDayResultSchema,
    BookingCloseDaySchema,
    BookingCloseResultSchema,
    BookingCloseSlotSchema,
    BookingCreateSchema,
    BookingHoursPutSchema,
    BookingHoursResultSchema,
    BookingOccupancyArgs,
    BookingOccupancySchema,
    BookingResourceCreateSchema,
    BookingResourceListArgs,
    BookingResourceSchema,
    BookingSchema,
    BookingWaitlistEntrySchema,
    BookingWaitlistSchema,
)
from scenarios.engines.booking.visibility import register_object_types


def _err(blp: Blueprint, status: int, description: str) -> Callable:
    return blp.alt_response(status, schema=ErrorSchema, description=description)


def _owner_codes(session, org_ids: set[int]) -> dict[int, str]:
    stmt = sa.select(Organisation.id, Organisation.code).where(Organisation.id.in_(org_ids))
    return dict(session.execute(stmt).all())


def _of_scenario(config: BookingConfig, name: str):
    """The object ``visible_object`` loaded, if it belongs to this scenario (else 404, like a
    missing one: a booking is read and changed under its own scenario's URL only)."""
    obj = loaded(name)
    scenario = obj.scenario if hasattr(obj, "scenario") else None
    if scenario != config.slug:
        raise ApiError("not_found")
    return obj


def make_blueprint(config: BookingConfig) -> Blueprint:
    register_object_types()
    slug = config.slug
    blp = Blueprint(f"{slug}-bookings", __name__, url_prefix=f"/api/v1/{slug}",
                    description=f"{config.title_zh}: resources, slots and bookings ({slug}), on the booking engine.")

    @blp.route("/resources")
    class Resources(MethodView):
        @require_auth
        @blp.arguments(BookingResourceListArgs, location="query")
        @blp.response(200, page_of(BookingResourceSchema))
        def get(self, args):
            """Bookable resources of the scenario (``owner``: one organisation's)."""
            session = get_session()
            owner = args.pop("owner")
            page = paginate(session, resources.listed(config, owner), args)
            codes = _owner_codes(session, {r.owner_org_id for r in page["items"]})
            return {**page, "items": [resource_view(r, codes[r.owner_org_id]) for r in page["items"]]}

        @idempotent
        @require_staff
        @blp.arguments(BookingResourceCreateSchema)
        @blp.response(201, BookingResourceSchema)
        @_err(blp, 409, "`resource_code_taken`")
        def post(self, args):
            """A resource of your organisation with its weekly hours (managers); slots are made at once
            for the scenario's window and extended daily."""
            session = get_session()
            principal = current_principal()
            resource = resources.create(session, clock=current_clock(), principal=principal, config=config, **args)
            answer = resource_view(resource, principal.org_code)
            session.commit()
            return answer

    @blp.route("/resources/<code>/availability")
    class Availability(MethodView):
        @visible_object("bk_resource", "code")
        @require_auth
        @blp.arguments(BookingAvailabilityArgs, location="query")
        @blp.response(200, BookingAvailabilitySchema)
        def get(self, args, code: str):
            """Open future slots and their free places (holds past their expiry count free, whether or
            not the worker has run). ``from`` (a date, default today) and ``days`` (1–14, default 7)."""
            resource = _of_scenario(config, "bk_resource")
            items = resources.availability(get_session(), resource, now=current_clock().now(),
                                           first=args.get("from_"), days=args["days"])
            # Sent as built (times already in +08:00): the schema documents it; dumping ~100 slots
            # through marshmallow cost a third of the request.
            return Response(json.dumps({"resource": resource.code, "slots": items}, ensure_ascii=False),
                            mimetype="application/json")

    @blp.route("/resources/<code>/close-day")
    class CloseDay(MethodView):
        @idempotent
        @visible_object("bk_resource", "code")
        @require_auth
        @blp.arguments(BookingCloseDaySchema)
        @blp.response(200, BookingCloseDayResultSchema)
        def post(self, args, code: str):
            """Close a whole day of a resource (a doctor's absence; the owner's managers): every open slot
            of that day closes, its bookings are cancelled and their people told."""
            session = get_session()
            resource = _of_scenario(config, "bk_resource")
            closed = svc.close_day(session, clock=current_clock(), principal=current_principal(), config=config,
                                   resource=resource, day=args["date"], reason=args["reason"])
            session.commit()
            return {"resource": resource.code, "date": args["date"], "closed_slots": closed}

    @blp.route("/resources/<code>/hours")
    class Hours(MethodView):
        @visible_object("bk_resource", "code")
        @require_auth
        @blp.arguments(BookingHoursPutSchema)
        @blp.response(200, BookingHoursResultSchema)
        def put(self, args, code: str):
            """Replace the weekly hours (the owner's managers). Slots already made stay (close those
            that must go); the new hours add the slots the window lacks."""
            session = get_session()
            resource = _of_scenario(config, "bk_resource")
            made = resources.set_hours(session, clock=current_clock(), principal=current_principal(), config=config,
                                       resource=resource, hours=args["hours"])
            session.commit()
            return {"resource": resource.code, "new_slots": made}

    @blp.route("/bookings")
    class Bookings(MethodView):
        @idempotent
        @require_resident
        @blp.arguments(BookingCreateSchema)
        @blp.response(201, BookingSchema)
        @_err(blp, 409, "`slot_full`, `slot_closed`, `already_booked`, `booking_limit_reached`")
        @_err(blp, 422, "`slot_not_in_scenario`, `slot_in_past`, `slot_too_far`, `party_too_large`")
        @_err(blp, 403, "`not_acting_for`: the person is not one you may book for")
        def post(self, args):
            """Book places on a slot for yourself or a person you act for: a hold to confirm
            (scenarios that need it) or a confirmed booking with its pass."""
            session = get_session()
            clock = current_clock()
            made = svc.booked(session, clock=clock, principal=current_principal(), config=config, **args)
            answer = booking_view(session, made.booking, clock=clock, slot=made.place.slot,
                                  resource=made.place.resource, person_name=made.person.name)
            session.commit()
            return answer

    @blp.route("/bookings/<int:booking_id>")
    class BookingItem(MethodView):
        @visible_object(SUBJECT, "booking_id")
        @require_auth
        @blp.response(200, BookingSchema)
        def get(self, booking_id: int):
            """A booking with its pass (its people; the owner's staff)."""
            return booking_view(get_session(), _of_scenario(config, SUBJECT), clock=current_clock())

    for action in ACTIONS:
        _action_view(blp, config, action)

    @blp.route("/slots/<int:slot_id>/waitlist")
    class Waitlist(MethodView):
        @idempotent
        @visible_object("bk_slot", "slot_id")
        @require_auth
        @blp.arguments(BookingWaitlistSchema)
        @blp.response(201, BookingWaitlistEntrySchema)
        @_err(blp, 409, "`waitlist_not_needed` (there is a free place: book it), `already_waiting`")
        def post(self, args, slot_id: int):
            """Wait for a full slot (residents): a freed place is offered to the first in line as a hold
            of the scenario's offer time, and they are told."""
            session = get_session()
            entry = svc.join_waitlist(session, clock=current_clock(), principal=current_principal(), config=config,
                                      slot=_of_scenario(config, "bk_slot"), **args)
            position = session.scalar(sa.select(sa.func.count()).select_from(BkWaitlistEntry).where(
                BkWaitlistEntry.slot_id == entry.slot_id, BkWaitlistEntry.status == "waiting",
                BkWaitlistEntry.id <= entry.id))
            answer = {"id": entry.id, "slot_id": entry.slot_id, "status": entry.status, "position": position}
            session.commit()
            return answer

    @blp.route("/slots/<int:slot_id>/close")
    class CloseSlot(MethodView):
        @idempotent
        @visible_object("bk_slot", "slot_id")
        @require_auth
        @blp.arguments(BookingCloseSlotSchema)
        @blp.response(200, BookingCloseResultSchema)
        @_err(blp, 409, "`slot_closed`: already closed")
        def post(self, args, slot_id: int):
            """Close a slot (the owner's managers): its bookings are cancelled, their passes revoked and
            their people told."""
            session = get_session()
            slot = svc.close_slot(session, clock=current_clock(), principal=current_principal(), config=config,
                                  slot=_of_scenario(config, "bk_slot"), reason=args["reason"])
            answer = {"slot_id": slot.id, "status": slot.status}
            session.commit()
            return answer

    @blp.route("/check-ins")
    class CheckIns(MethodView):
        @idempotent
        @require_auth(kinds=("device", "staff"))
        @blp.doc(security=[{"deviceBasic": []}, {"bearerAuth": []}])
        @blp.arguments(BookingCheckInSchema)
        @blp.response(200, BookingAdmittedSchema)
        @_err(blp, 409, "`pass_wrong_venue` (a pass of another organisation's venue), `no_booking_now` (a "
                        "personal code without a booking here now), `pass_used_up` (every place admitted), "
                        "`qr_revoked` (cancelled), `qr_replayed`")
        @_err(blp, 422, "`qr_*`: not a valid code, outside its window (`qr_not_yet_valid`, `qr_expired`)")
        def post(self, args):
            """The gate (一码通行): a device or staff of the owning organisation scans a booking's pass or
            the resident's personal code; the answer says which booking of this organisation, now, it
            admits. A pass admits up to its booking's places."""
            session = get_session()
            clock = current_clock()
            try:
                result = admission.admit(session, clock=clock, principal=current_principal(), config=config,
                                         token=args["token"])
            except QrError:
                session.commit()  # the rejected scan is kept
                raise
            answer = {"result": "admitted", "via": result.via,
                      "booking": booking_view(session, result.booking, clock=clock, slot=result.slot,
                                              resource=result.resource, person_name=result.person_name,
                                              with_pass=False)}
            session.commit()
            return answer

    @blp.route("/occupancy")
    class Occupancy(MethodView):
        @require_staff
        @blp.arguments(BookingOccupancyArgs, location="query")
        @blp.response(200, BookingOccupancySchema)
        def get(self, args):
            """Your organisation's resources on one day: each slot's capacity, bookings and live holds."""
            items = resources.occupancy(get_session(), principal=current_principal(), config=config,
                                        day=args["date"], now=current_clock().now())
            return {"date": args["date"], "resources": items}

    return blp


def _action_view(blp: Blueprint, config: BookingConfig, action: Action) -> None:
    def post(self, args, booking_id: int):
        session = get_session()
        clock = current_clock()
        booking = action.service(session, clock=clock, principal=current_principal(), config=config,
                                 booking=_of_scenario(config, SUBJECT), **args)
        answer = booking_view(session, booking, clock=clock)
        session.commit()
        return answer

    post.__doc__ = action.summary
    decorated = _err(blp, 409, action.errors)(post)
    decorated = _err(blp, 403, "Not your booking to change (the owner's staff see it)")(decorated)
    decorated = blp.response(200, BookingSchema)(decorated)
    decorated = blp.arguments(action.schema)(decorated)
    decorated = require_auth(decorated)
    decorated = visible_object(SUBJECT, "booking_id")(decorated)  # first: not visible is 404
    decorated = idempotent(decorated)
    view = type(f"{config.schema_prefix}Booking{action.endpoint.capitalize()}View", (MethodView,),
                {"post": decorated})
    blp.route(f"/bookings/<int:booking_id>/{action.path}", endpoint=f"booking_{action.endpoint}")(view)


def scenario_blueprints(config: BookingConfig) -> list[Blueprint]:
    """The engine's ``scenario_blueprints``: a scenario's booking endpoints."""
    return [make_blueprint(config)]
