"""Rental requests under ``/api/v1/rural-rental``: a tenant asks for a published room
(``POST /rental-requests``), the landlord accepts or declines, the tenant may withdraw one still
pending. The decisions are a table of actions served by one generic view, as the engines do.

Who sees a request (``rr_rental_request``): the tenant who asked and the room's landlord;
anyone else gets 404."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask.views import MethodView

from app.action_routes import Action, mount
from app.api import Blueprint, page_of, paginate
from app.context import current_clock
from app.db import get_session
from app.idempotency import idempotent
from auth import pii
from auth.models import Person
from auth.principal import current_principal, require_auth, require_resident
from auth.visibility import loaded, register, visible_object
from scenarios.rural_rental import rental_requests as svc
from scenarios.rural_rental.models import RrRentalRequest
from scenarios.rural_rental.schemas import (
    RentalRequestEmptySchema,
    RentalRequestInSchema,
    RentalRequestListArgs,
    RentalRequestReasonSchema,
    RentalRequestSchema,
)

SUBJECT = "rr_rental_request"
blp = Blueprint("rural-rental-requests", __name__, url_prefix="/api/v1/rural-rental",
                description="出租房屋: tenants' rental requests for published rooms, answered by landlords.")


ACTIONS: tuple[Action, ...] = (
    Action("accept", RentalRequestEmptySchema, svc.accept,
           "The landlord accepts a pending request; next they submit the tenancy with `request_id`. "
           "409 `rental_request_decided`."),
    Action("decline", RentalRequestReasonSchema, svc.decline,
           "The landlord declines a pending request with a reason the tenant sees. 409 `rental_request_decided`."),
    Action("withdraw", RentalRequestEmptySchema, svc.withdraw,
           "The tenant takes back a pending request. 409 `rental_request_decided`."),
)


def request_view(session, request: RrRentalRequest, principal) -> dict[str, Any]:
    view = {c: getattr(request, c) for c in ("id", "listing_id", "room_id", "house_id", "persons", "starts_on",
                                            "ends_on", "message", "state", "reason", "tenancy_id", "created_at",
                                            "decided_at")}
    view["mine"] = principal.account_id == request.tenant_account_id
    name = session.scalar(sa.select(Person.name).where(Person.id == request.tenant_person_id))
    view["tenant_name"] = pii.mask_name(name)
    return view


@blp.route("/rental-requests")
class RentalRequests(MethodView):
    @idempotent
    @require_resident
    @blp.arguments(RentalRequestInSchema)
    @blp.response(201, RentalRequestSchema)
    def post(self, args):
        """Ask for a published room (real-name verified residents, people from outside Shanghai
        included): persons, period, a message. The landlord is told."""
        session = get_session()
        principal = current_principal()
        request = svc.apply(session, clock=current_clock(), principal=principal, data=args)
        answer = request_view(session, request, principal)
        session.commit()
        return answer

    @require_resident
    @blp.arguments(RentalRequestListArgs, location="query")
    @blp.response(200, page_of(RentalRequestSchema, "RuralRentalRequestPageSchema"))
    def get(self, args):
        """Your requests as a tenant and the requests for your rooms as a landlord, newest first."""
        session = get_session()
        principal = current_principal()
        stmt = sa.select(RrRentalRequest).where(sa.or_(RrRentalRequest.tenant_account_id == principal.account_id,
                                                       RrRentalRequest.landlord_account_id == principal.account_id))
        state = args.pop("state")
        if state:
            stmt = stmt.where(RrRentalRequest.state == state)
        page = paginate(session, stmt.order_by(RrRentalRequest.id.desc()), args)
        return {**page, "items": [request_view(session, r, principal) for r in page["items"]]}


@blp.route("/rental-requests/<int:request_id>")
class RentalRequestItem(MethodView):
    @visible_object(SUBJECT, "request_id")
    @require_auth
    @blp.response(200, RentalRequestSchema)
    def get(self, request_id: int):
        """A rental request (the tenant who asked, the room's landlord)."""
        return request_view(get_session(), loaded(SUBJECT), current_principal())


def _action_view(action: Action) -> None:
    def run(action: Action, args: dict[str, Any], request_id: int) -> dict[str, Any]:
        session = get_session()
        principal = current_principal()
        request = action.service(session, clock=current_clock(), principal=principal, request=loaded(SUBJECT),
                                 **args)
        answer = request_view(session, request, principal)
        session.commit()
        return answer

    mount(blp, action, rule=f"/rental-requests/<int:request_id>/{action.path}",
          endpoint=f"rental_request_{action.path}", view_name=f"RuralRentalRequest{action.path.capitalize()}View",
          run=run, wraps=(blp.response(200, RentalRequestSchema), blp.arguments(action.schema), require_resident,
                          visible_object(SUBJECT, "request_id"), idempotent))


for _action in ACTIONS:
    _action_view(_action)


def _load(session, key: Any) -> RrRentalRequest | None:
    return session.get(RrRentalRequest, key) if isinstance(key, int) and 0 < key < 2**63 else None


def _visible(session, principal, request: RrRentalRequest) -> bool:
    return principal.is_resident and principal.account_id in (request.tenant_account_id, request.landlord_account_id)


def register_objects() -> None:
    register(SUBJECT, load=_load, visible=_visible,
             description="a rental request (the tenant who asked; the room's landlord)")
