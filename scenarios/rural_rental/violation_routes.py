"""rural-rental's violations under ``/api/v1/rural-rental``: the village committee records a
violation at a house and follows it up until closed; the committee and the house's landlord
read them. Who sees a violation (``rr_violation``): as its house (its landlord, its village's
committee); anyone else gets 404."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask.views import MethodView

from app.api import Blueprint, page_of, paginate
from app.context import current_clock
from app.db import get_session
from app.idempotency import idempotent
from app.places.models import Village
from auth.principal import current_principal, require_auth, require_staff
from auth.visibility import loaded, register, visible_object
from scenarios.rural_rental import violations
from scenarios.rural_rental.models import RrHouse, RrViolation
from scenarios.rural_rental.schemas import FollowUpInSchema, ViolationInSchema, ViolationListArgs, ViolationSchema
from scenarios.rural_rental.service import sees_house

blp = Blueprint("rural-rental-violations", __name__, url_prefix="/api/v1/rural-rental",
                description="出租房屋: violations found at houses and their follow-up.")


def violation_view(session, violation: RrViolation) -> dict[str, Any]:
    view = {c: getattr(violation, c) for c in ("id", "house_id", "kind", "note", "photos", "found_on", "state",
                                              "recorded_at", "closed_at")}
    view["follow_ups"] = [{"note": f.note, "photos": f.photos, "closes": f.closes, "at": f.at}
                          for f in violations.follow_ups(session, violation)]
    return view


def _listed(session, stmt, args) -> dict[str, Any]:
    state = args.pop("state")
    if state:
        stmt = stmt.where(RrViolation.state == state)
    page = paginate(session, stmt.order_by(RrViolation.found_on.desc(), RrViolation.id.desc()), args)
    return {**page, "items": [violation_view(session, v) for v in page["items"]]}


@blp.route("/houses/<int:house_id>/violations")
class HouseViolations(MethodView):
    @visible_object("rr_house", "house_id")
    @require_auth
    @blp.arguments(ViolationListArgs, location="query")
    @blp.response(200, page_of(ViolationSchema, "RuralRentalViolationPageSchema"))
    def get(self, args, house_id: int):
        """The house's violations, latest found first (its landlord, its village's committee)."""
        session = get_session()
        return _listed(session, sa.select(RrViolation).where(RrViolation.house_id == loaded("rr_house").id), args)

    @idempotent
    @visible_object("rr_house", "house_id")
    @require_staff
    @blp.arguments(ViolationInSchema)
    @blp.response(201, ViolationSchema)
    def post(self, args, house_id: int):
        """The village committee records a violation (kind, note, photos, the day found): the house
        loses its green card for 12 months."""
        session = get_session()
        violation = violations.record(session, clock=current_clock(), principal=current_principal(),
                                      house=loaded("rr_house"), data=args)
        answer = violation_view(session, violation)
        session.commit()
        return answer


@blp.route("/violations")
class Violations(MethodView):
    @require_auth
    @blp.arguments(ViolationListArgs, location="query")
    @blp.response(200, page_of(ViolationSchema, "RuralRentalViolationListSchema"))
    def get(self, args):
        """Committees: their village's violations (``state=open``: those still followed up).
        Landlords: their houses'."""
        session = get_session()
        principal = current_principal()
        stmt = sa.select(RrViolation)
        if principal.is_resident:
            stmt = stmt.join(RrHouse, RrHouse.id == RrViolation.house_id).where(
                RrHouse.landlord_account_id == principal.account_id)
        else:
            stmt = stmt.join(Village, Village.id == RrViolation.village_id).where(
                Village.committee_id == principal.org_id)
        return _listed(session, stmt, args)


@blp.route("/violations/<int:violation_id>")
class ViolationItem(MethodView):
    @visible_object("rr_violation", "violation_id")
    @require_auth
    @blp.response(200, ViolationSchema)
    def get(self, violation_id: int):
        """A violation with its follow-up."""
        return violation_view(get_session(), loaded("rr_violation"))


@blp.route("/violations/<int:violation_id>/follow-ups")
class FollowUps(MethodView):
    @idempotent
    @visible_object("rr_violation", "violation_id")
    @require_staff
    @blp.arguments(FollowUpInSchema)
    @blp.response(201, ViolationSchema)
    def post(self, args, violation_id: int):
        """A step of the follow-up by the village committee; ``close: true`` closes the violation
        (409 `violation_closed` once it is)."""
        session = get_session()
        violation = loaded("rr_violation")
        violations.follow_up(session, clock=current_clock(), principal=current_principal(), violation=violation,
                             data=args)
        answer = violation_view(session, violation)
        session.commit()
        return answer


def _load(session, key: Any) -> RrViolation | None:
    return session.get(RrViolation, key) if isinstance(key, int) and 0 < key < 2**63 else None


def _visible(session, principal, violation: RrViolation) -> bool:
    return sees_house(session, principal, session.get(RrHouse, violation.house_id))


def register_objects() -> None:
    register("rr_violation", load=_load, visible=_visible,
             description="a violation at a rental house (as its house: its landlord, its village's committee)")
