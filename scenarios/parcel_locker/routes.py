"""Endpoints of parcel-locker under ``/api/v1/parcel-locker`` and ``GET /api/v1/me/parcels``.

The actions on one parcel are a table (``ACTIONS``: path, schema, service, callers) served by
one generic view, visibility first (404), then the service's 403/409, as the engines do.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask.views import MethodView

from app.action_routes import Action, mount
from app.api import Blueprint, ErrorSchema, page_of, paginate
from app.context import current_clock
from app.db import get_session
from app.errors import ApiError
from app.idempotency import idempotent
from app.places.models import Community
from auth.models import Device, Person
from auth.principal import current_principal, require_auth, require_device, require_resident, require_staff
from auth.ratelimit import exempt
from auth.visibility import loaded, visible_object
from qr.tokens import QrError
from scenarios.parcel_locker import service as svc
from scenarios.parcel_locker.models import Parcel
from scenarios.parcel_locker.schemas import (
    LockerCreateSchema,
    LockerListSchema,
    LockerSchema,
    ParcelListArgs,
    ParcelOpenSchema,
    ParcelPickupSchema,
    ParcelProxySchema,
    ParcelRetrieveSchema,
    ParcelSchema,
    ParcelStoreSchema,
)
from scenarios.parcel_locker.views import locker_view, parcel_view
from scenarios.parcel_locker.visibility import register_object_types

SLUG = "parcel-locker"
MANAGERS = ("manager",)


ACTIONS: tuple[Action, ...] = (
    Action("proxy", ParcelProxySchema, svc.name_proxy,
           "The recipient names a relative (a confirmed relation of theirs) who may pick up: the relative sees "
           "the parcel and its pass in `GET /api/v1/me/parcels` and is told.",
           "`parcel_not_stored`; 422 `proxy_not_related`"),
    Action("retrieve", ParcelRetrieveSchema, svc.retrieve,
           "The operator's staff take an uncollected parcel back out of its cell (the cell is free again, the "
           "pass revoked).", "`parcel_not_stored`"),
)


def _err(blp: Blueprint, status: int, description: str) -> Callable:
    return blp.alt_response(status, schema=ErrorSchema, description=description)


def _action_view(blp: Blueprint, action: Action) -> None:
    def run(action: Action, args: dict[str, Any], parcel_id: int) -> dict[str, Any]:
        session = get_session()
        clock, principal = current_clock(), current_principal()
        parcel = action.service(session, clock=clock, principal=principal, parcel=loaded(svc.SUBJECT), **args)
        answer = parcel_view(session, parcel, principal=principal, clock=clock)
        session.commit()
        return answer

    mount(blp, action, rule=f"/parcels/<int:parcel_id>/{action.path}", endpoint=f"parcel_{action.path}",
          view_name=f"Parcel{action.path.capitalize()}View", run=run,
          wraps=(_err(blp, 409, action.errors), _err(blp, 403, "Seen but not yours to change"),
                 blp.response(200, ParcelSchema), blp.arguments(action.schema), require_auth,
                 visible_object(svc.SUBJECT, "parcel_id"),  # outside the others: not visible is 404
                 idempotent))


def _blueprint() -> Blueprint:
    blp = Blueprint(SLUG, __name__, url_prefix=f"/api/v1/{SLUG}",
                    description="智能快件箱取件: lockers, parcels, pickup passes")

    @blp.route("/parcels")
    class Parcels(MethodView):
        @idempotent
        @require_auth(kinds=("device", "staff"))
        @blp.doc(security=[{"deviceBasic": []}, {"bearerAuth": []}])
        @blp.arguments(ParcelStoreSchema)
        @blp.response(201, ParcelSchema)
        @_err(blp, 409, "`cell_occupied` (the cell holds a parcel), `locker_not_registered`")
        @_err(blp, 422, "`cell_unknown`, `validation_error` (`locker` missing or not yours)")
        def post(self, args):
            """A courier's delivery, by the locker itself or the operator's API: the parcel takes the cell,
            the recipient (found by phone) is told and gets a single-use pickup pass."""
            session = get_session()
            clock, principal = current_clock(), current_principal()
            done = svc.store(session, clock=clock, principal=principal, **args)
            answer = parcel_view(session, done.parcel, principal=principal, clock=clock, locker=done.locker,
                                 cell=done.cell, events=done.events)
            session.commit()
            return answer

        @require_staff
        @blp.arguments(ParcelListArgs, location="query")
        @blp.response(200, page_of(ParcelSchema))
        def get(self, args):
            """The acting operator's parcels, oldest first (`status` filters)."""
            session = get_session()
            clock, principal = current_clock(), current_principal()
            stmt = svc.operator_parcels(principal.org_id, status=args.pop("status", None))
            page = paginate(session, stmt, args)
            return {**page, "items": [parcel_view(session, p, principal=principal, clock=clock)
                                      for p in page["items"]]}

    @blp.route("/parcels/<int:parcel_id>")
    class ParcelItem(MethodView):
        @visible_object(svc.SUBJECT, "parcel_id")
        @require_auth
        @blp.response(200, ParcelSchema)
        def get(self, parcel_id: int):
            """A parcel with its trail (its recipient, their named relative, the operator's staff)."""
            return parcel_view(get_session(), loaded(svc.SUBJECT), principal=current_principal(),
                               clock=current_clock())

    for action in ACTIONS:
        _action_view(blp, action)

    @blp.route("/pickups")
    class Pickups(MethodView):
        @exempt  # a locker with a queue in front of it is never throttled
        @idempotent
        @require_device
        @blp.arguments(ParcelPickupSchema)
        @blp.response(200, ParcelOpenSchema)
        @_err(blp, 409, "`qr_replayed` (a used pass), `qr_revoked` (retrieved), `parcel_wrong_locker`, "
                        "`parcel_wrong_cell`, `parcel_not_stored`, `locker_not_registered`")
        @_err(blp, 422, "`qr_*`: not a valid pickup pass")
        def post(self, args):
            """The locker verifies a pickup pass: the cell to open. The pass is used once."""
            session = get_session()
            try:
                done = svc.pickup(session, clock=current_clock(), principal=current_principal(), **args)
            except QrError:
                session.commit()  # the rejected scan is kept
                raise
            answer = {"result": "open", "parcel_id": done.parcel.id, "cell": done.cell.label}
            session.commit()
            return answer

    @blp.route("/lockers")
    class Lockers(MethodView):
        @require_staff
        @blp.response(200, LockerListSchema)
        def get(self):
            """The acting operator's lockers and their cells (occupied or free)."""
            session = get_session()
            rows = session.execute(svc.operator_lockers(current_principal().org_id))
            return {"items": [locker_view(session, locker, code) for locker, code in rows]}

        @idempotent
        @require_staff(roles=MANAGERS)
        @blp.arguments(LockerCreateSchema)
        @blp.response(201, LockerSchema)
        def post(self, args):
            """Register a locker device of the operator (managers) with its cells."""
            session = get_session()
            principal = current_principal()
            if principal.org_type != "locker_operator":
                raise ApiError("forbidden")
            device = session.scalar(sa.select(Device).where(Device.uid == args["device_id"]))
            community = None
            if args.get("community"):
                community = session.scalar(sa.select(Community).where(Community.code == args["community"]))
                if community is None:
                    raise ApiError("validation_error", errors={"community": ["没有这个小区。"]})
            if device is None:
                raise ApiError("validation_error", errors={"device_id": ["须为本单位的快件箱设备。"]})
            locker = svc.add_locker(session, clock=current_clock(), operator_id=principal.org_id, device=device,
                                    name=args["name"], community_id=community.id if community else None,
                                    cells=args["cells"])
            answer = locker_view(session, locker, community.code if community else None)
            session.commit()
            return answer

    return blp


def _me_blueprint() -> Blueprint:
    blp = Blueprint(f"{SLUG}-me", __name__, url_prefix="/api/v1/me", description="智能快件箱: my parcels")

    @blp.route("/parcels")
    class MyParcels(MethodView):
        @require_resident
        @blp.arguments(ParcelListArgs, location="query")
        @blp.response(200, page_of(ParcelSchema))
        def get(self, args):
            """Parcels for the caller's phone and those a recipient named them to pick up, newest first;
            a stored one carries its pickup pass."""
            session = get_session()
            clock, principal = current_clock(), current_principal()
            digest = session.scalar(sa.select(Person.phone_hash).where(Person.id == principal.person_id))
            mine = Parcel.proxy_person_id == principal.person_id
            if digest is not None:
                mine = sa.or_(Parcel.recipient_phone_hash == digest, mine)
            stmt = sa.select(Parcel).where(mine)
            status = args.pop("status", None)
            if status:
                stmt = stmt.where(Parcel.status == status)
            page = paginate(session, stmt.order_by(Parcel.stored_at.desc(), Parcel.id.desc()), args)
            return {**page, "items": [parcel_view(session, p, principal=principal, clock=clock)
                                      for p in page["items"]]}

    return blp


def blueprints() -> list[Blueprint]:
    register_object_types()
    return [_blueprint(), _me_blueprint()]
