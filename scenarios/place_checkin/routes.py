"""Endpoints of place-checkin under ``/api/v1/place-checkin``; who may call what is in
``scenarios.place_checkin.service``."""
from __future__ import annotations

from typing import Any

from flask import Response, current_app
from flask.views import MethodView

from app.api import Blueprint, ErrorSchema, PageArgs, page_of, paginate
from app.context import current_clock
from app.db import get_session, writes
from app.idempotency import idempotent
from auth.principal import current_principal, require_device, require_resident, require_staff
from auth.ratelimit import exempt, rate_limit
from auth.visibility import visible_object
from qr import render
from qr.holders import describe as describe_holder
from scenarios.place_checkin import service
from scenarios.place_checkin.kinds import PLACE_KINDS
from scenarios.place_checkin.models import Checkin, CheckinPlace
from scenarios.place_checkin.schemas import (
    PlaceCheckinCheckinSchema,
    PlaceCheckinFlowArgs,
    PlaceCheckinFlowSchema,
    PlaceCheckinKindListSchema,
    PlaceCheckinPlaceCreateSchema,
    PlaceCheckinPlaceListArgs,
    PlaceCheckinPlacePatchSchema,
    PlaceCheckinPlaceSchema,
    PlaceCheckinPosterArgs,
    PlaceCheckinScanSchema,
    PlaceCheckinSentinelCheckinSchema,
    PlaceCheckinSentinelListSchema,
    PlaceCheckinSentinelPlaceSchema,
    PlaceCheckinSentinelSchema,
    PlaceCheckinTokenSchema,
)
from scenarios.place_checkin.visibility import register_object_types

register_object_types()

blp = Blueprint("place_checkin", __name__, url_prefix="/api/v1/place-checkin",
                description="场所码 / 数字哨兵: place codes, check-ins, sentinels and flow counts")

POSTER_TYPES = {"png": "image/png", "svg": "image/svg+xml"}




def _org_code(session, place: CheckinPlace) -> str:
    from auth.organisations import Organisation

    return session.get(Organisation, place.operator_id).code


def place_ref_view(place: CheckinPlace) -> dict[str, Any]:
    return {"code": place.code, "name": place.name, "kind": place.kind, "kind_name": PLACE_KINDS[place.kind],
            "address": place.address}


def place_view(session, place: CheckinPlace, link: str | None) -> dict[str, Any]:
    return {**place_ref_view(place), "lat": place.lat, "lon": place.lon, "active": place.active,
            "operator": _org_code(session, place), "link": link}


def checkin_view(checkin: Checkin, place: CheckinPlace) -> dict[str, Any]:
    return {"place": place_ref_view(place), "via": checkin.via, "at": checkin.at}


@blp.route("/kinds")
class Kinds(MethodView):
    @blp.response(200, PlaceCheckinKindListSchema)
    def get(self):
        """The 25 kinds of places (25 类重点场所)."""
        return {"items": [{"kind": k, "name": v} for k, v in PLACE_KINDS.items()]}


# ---------------------------------------------------------------- operators


@blp.route("/places")
class Places(MethodView):
    @writes
    @require_staff
    @blp.arguments(PlaceCheckinPlaceListArgs, location="query")
    @blp.response(200, page_of(PlaceCheckinPlaceSchema))
    def get(self, args):
        """The places of the caller's acting organisation, with their place-code links."""
        session = get_session()
        principal = current_principal()
        org = service.acting_org(session, principal)
        page = paginate(session, service.places_of(org.id, kind=args.pop("kind", None)), args)
        items = [place_view(session, p, service.place_link(session, p, clock=current_clock())) for p in page["items"]]
        session.commit()  # a code that had expired was issued again
        return {**page, "items": items}

    @idempotent
    @require_staff
    @rate_limit("manage")
    @blp.arguments(PlaceCheckinPlaceCreateSchema)
    @blp.response(201, PlaceCheckinPlaceSchema)
    @blp.alt_response(422, schema=ErrorSchema, description="validation_error | outside_district")
    def post(self, args):
        """Register a place of the acting organisation (managers); its place code is issued at once."""
        session = get_session()
        place, link = service.create_place(session, clock=current_clock(), principal=current_principal(), **args)
        session.commit()
        return place_view(session, place, link)


@blp.route("/places/<code>")
class Place(MethodView):
    @visible_object("checkin_place", "code")
    @writes
    @require_staff
    @blp.response(200, PlaceCheckinPlaceSchema)
    def get(self, code: str):
        """One place of the caller's organisation (404 for anyone else's)."""
        session = get_session()
        place = service.place_for_operator(session, current_principal(), code)
        link = service.place_link(session, place, clock=current_clock())
        session.commit()
        return place_view(session, place, link)

    @visible_object("checkin_place", "code")
    @require_staff
    @blp.arguments(PlaceCheckinPlacePatchSchema)
    @blp.response(200, PlaceCheckinPlaceSchema)
    def patch(self, args, code: str):
        """Rename, change the address, close (revokes the place code) or reopen (managers)."""
        session = get_session()
        clock = current_clock()
        place = service.place_for_operator(session, current_principal(), code, manage=True)
        service.update_place(session, place, clock=clock, changes=args)
        link = service.place_link(session, place, clock=clock)
        session.commit()
        return place_view(session, place, link)


@blp.route("/places/<code>/poster")
class Poster(MethodView):
    @visible_object("checkin_place", "code")
    @writes
    @require_staff
    @blp.arguments(PlaceCheckinPosterArgs, location="query")
    @blp.response(200, content_type="image/png", description="A printable poster (PNG or SVG).")
    @blp.alt_response(409, schema=ErrorSchema, description="place_closed")
    def get(self, args, code: str):
        """The printable poster of the place code (A4)."""
        return poster_response(get_session(), code, args["format"])


def poster_response(session, code: str, fmt: str, *, download: bool = False) -> Response:
    """The poster of one of the caller's places as PNG or SVG (the API's and the console's);
    409 ``place_closed`` for a closed place. ``download``: as an attachment."""
    from app.errors import ApiError

    place = service.place_for_operator(session, current_principal(), code)
    link = service.place_link(session, place, clock=current_clock())
    if link is None:
        raise ApiError("place_closed")
    session.commit()  # a code that had expired was issued again
    font = current_app.extensions["settings"].get("QR_POSTER_FONT")
    if fmt == "svg":
        body: bytes | str = render.poster_svg(link, place_name=place.name, place_ref=place.code)
    else:
        body = render.poster_png(link, place_name=place.name, place_ref=place.code, font_path=font)
    resp = Response(body, mimetype=POSTER_TYPES[fmt])
    disposition = "attachment" if download else "inline"
    resp.headers["Content-Disposition"] = f'{disposition}; filename="place-{place.code}.{fmt}"'
    resp.headers["Cache-Control"] = "private, no-cache"
    return resp


@blp.route("/places/<code>/flow")
class Flow(MethodView):
    @visible_object("checkin_place", "code")
    @require_staff
    @blp.arguments(PlaceCheckinFlowArgs, location="query")
    @blp.response(200, PlaceCheckinFlowSchema)
    def get(self, args, code: str):
        """Check-ins per hour at one of the caller's places (at most 31 days; hours in +08:00)."""
        session = get_session()
        place = service.place_for_operator(session, current_principal(), code)
        start, end = service.flow_range(args.get("from_"), args.get("to"), clock=current_clock())
        hours = service.hourly_flow(session, place, start, end)
        return {"place": place.code, "from_": start, "to": end, "total": sum(h["count"] for h in hours),
                "hours": hours}


@blp.route("/places/<code>/sentinels")
class Sentinels(MethodView):
    @visible_object("checkin_place", "code")
    @require_staff
    @blp.response(200, PlaceCheckinSentinelListSchema)
    def get(self, code: str):
        """The sentinels standing at the place."""
        session = get_session()
        place = service.place_for_operator(session, current_principal(), code)
        return {"items": [_sentinel_view(d, s) for d, s in service.sentinels_at(session, place)]}


def _sentinel_view(device, binding) -> dict[str, Any]:
    return {"device_id": device.uid, "name": device.name, "status": device.status, "bound_at": binding.bound_at}


@blp.route("/places/<code>/sentinels/<device_id>")
class Sentinel(MethodView):
    @visible_object("sentinel", "code", "device_id")
    @require_staff
    @blp.response(200, PlaceCheckinSentinelSchema)
    def put(self, code: str, device_id: str):
        """Put a sentinel of the operator at this place (moving it from another place; managers)."""
        session = get_session()
        clock = current_clock()
        place = service.place_for_operator(session, current_principal(), code, manage=True)
        binding = service.bind_sentinel(session, place, device_id, clock=clock)
        device = next(d for d, s in service.sentinels_at(session, place) if s.device_id == binding.device_id)
        session.commit()
        return _sentinel_view(device, binding)

    @visible_object("sentinel", "code", "device_id")
    @require_staff
    @blp.response(204)
    def delete(self, code: str, device_id: str):
        """Take the sentinel away from this place (managers)."""
        session = get_session()
        place = service.place_for_operator(session, current_principal(), code, manage=True)
        service.unbind_sentinel(session, place, device_id)
        session.commit()


# ---------------------------------------------------------------- residents


@blp.route("/checkins")
class Checkins(MethodView):
    @idempotent
    @require_resident
    @blp.arguments(PlaceCheckinScanSchema)
    @blp.response(201, PlaceCheckinCheckinSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="qr_revoked | place_closed")
    @blp.alt_response(422, schema=ErrorSchema, description="qr_* (the code is not a valid place code)")
    def post(self, args):
        """Check in at a place by its scanned place code (the link or the bare token)."""
        session = get_session()
        result = service.check_in_with_place_code(session, clock=current_clock(), principal=current_principal(),
                                                  scanned=args["code"])
        session.commit()
        return checkin_view(result.checkin, result.place)


@blp.route("/me/checkins")
class MyCheckins(MethodView):
    @require_resident
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(PlaceCheckinCheckinSchema))
    def get(self, args):
        """The caller's own check-ins, newest first (kept for the retention period only)."""
        session = get_session()
        page = paginate(session, service.history_of(current_principal().person_id), args)
        places = service.places_by_id(session, {c.place_id for c in page["items"]})
        return {**page, "items": [checkin_view(c, places[c.place_id]) for c in page["items"]]}


# ---------------------------------------------------------------- sentinels (devices)


@blp.route("/scans")
class Scans(MethodView):
    @exempt  # like /api/v1/qr/verify: a sentinel at a busy door is never throttled
    @idempotent
    @require_device
    @blp.arguments(PlaceCheckinTokenSchema)
    @blp.response(201, PlaceCheckinSentinelCheckinSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="qr_replayed | qr_revoked | sentinel_not_bound")
    @blp.alt_response(422, schema=ErrorSchema, description="qr_* (not a valid personal code)")
    def post(self, args):
        """A sentinel scanned a resident's personal code: check the holder in at the sentinel's place.
        Answers what the sentinel shows: the masked name and real-name level."""
        session = get_session()
        result = service.check_in_by_sentinel(session, clock=current_clock(), principal=current_principal(),
                                              token=args["token"])
        session.commit()
        return {**checkin_view(result.checkin, result.place), "holder": describe_holder(result.holder)}


@blp.route("/sentinel")
class SentinelWhoAmI(MethodView):
    @require_device
    @blp.response(200, PlaceCheckinSentinelPlaceSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="sentinel_not_bound")
    def get(self):
        """The calling sentinel and the place it stands at (for installers)."""
        session = get_session()
        principal = current_principal()
        place = service.place_of_sentinel(session, principal)
        return {"device_id": principal.device_uid, "place": place_ref_view(place)}


def blueprints() -> list[Blueprint]:
    return [blp]
