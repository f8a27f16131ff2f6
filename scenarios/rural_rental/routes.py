"""rural-rental's own endpoints under ``/api/v1/rural-rental``: houses (landlords register, the
village committee lists and inspects), tenancies (the landlord submits; the committee decides on
``/applications/<id>/approve`` of the approval engine's blueprint, also mounted here).

Who sees a house (``rr_house``): its landlord and its village's committee; any other
committee gets 404, like a house that does not exist.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask.views import MethodView

from app.api import Blueprint, page_of, paginate
from app.context import current_clock
from app.db import get_session
from app.idempotency import idempotent
from app.places.models import Village
from app.places.service import local_date
from auth import pii
from auth.models import Person
from auth.principal import current_principal, require_auth, require_resident, require_staff
from auth.visibility import loaded, register, visible_object
from qr.tokens import QrError
from scenarios.engines.approval.routes import make_blueprint as approval_blueprint
from scenarios.rural_rental import CONFIG, TENANCY, request_routes, stays, violation_routes
from scenarios.rural_rental import service as svc
from scenarios.rural_rental.models import RrHouse, RrStay, RrTenancy
from scenarios.rural_rental.schemas import (
    HouseCreateSchema,
    HouseListArgs,
    HouseSchema,
    InspectionResultSchema,
    InspectionSchema,
    TenancyFormSchema,
    TenancyListArgs,
    TenancySchema,
    TenantIdentitySchema,
)

blp = Blueprint("rural-rental", __name__, url_prefix="/api/v1/rural-rental",
                description="出租房屋: houses, inspections and tenancies (租前审批) of rural rental housing.")


def _house(session, key: Any) -> RrHouse | None:
    return session.get(RrHouse, key) if isinstance(key, int) and 0 < key < 2**63 else None


def _sees_house(session, principal, house: RrHouse) -> bool:
    return svc.sees_house(session, principal, house)


def _masked_tenants(session, room_id: int, today) -> list[dict[str, Any]]:
    ids: list[int] = []
    for t in session.scalars(sa.select(RrTenancy).where(RrTenancy.room_id == room_id, RrTenancy.state == "approved",
                                                        RrTenancy.starts_on <= today, RrTenancy.ends_on > today)):
        ids += t.tenant_person_ids
    persons = session.scalars(sa.select(Person).where(Person.id.in_(ids))).all() if ids else []
    return [{"name": pii.mask_name(p.name) if p.name else None,
             "id_number": pii.mask_id_number(p.id_number) if p.id_number else None} for p in persons]


def house_view(session, house: RrHouse, *, with_tenants: bool = True) -> dict[str, Any]:
    today = local_date(current_clock())
    village = session.get(Village, house.village_id)
    return {"id": house.id, "village": village.code, "house_number": house.house_number, "address": house.address,
            "state": house.state, "green": house.green, "next_inspection_on": house.next_inspection_on,
            "rooms": [{"id": r.id, "label": r.label, "area_m2": r.area_m2, "rent_fen": r.rent_fen,
                       "occupancy_limit": r.occupancy_limit, "facilities": r.facilities, "listing_id": r.listing_id,
                       **({"current_tenants": _masked_tenants(session, r.id, today)} if with_tenants else {})}
                      for r in svc.rooms_of(session, house)]}


def _theirs(stmt: sa.Select, principal, village_id: Any) -> sa.Select:
    """A landlord's own houses' rows; a committee's, its villages' (``village_id``: the rows' village)."""
    if principal.is_resident:
        return stmt.where(RrHouse.landlord_account_id == principal.account_id)
    return stmt.join(Village, Village.id == village_id).where(Village.committee_id == principal.org_id)


def houses_listed(principal, *, state: str | None = None, due=None) -> sa.Select:
    """Landlords: their houses; committees: their village's; next inspection first."""
    stmt = _theirs(sa.select(RrHouse), principal, RrHouse.village_id)
    if state:
        stmt = stmt.where(RrHouse.state == state)
    if due:
        stmt = stmt.where(RrHouse.next_inspection_on <= due)
    return stmt.order_by(RrHouse.next_inspection_on.is_(None), RrHouse.next_inspection_on, RrHouse.id)


def tenancies_listed(principal, *, state: str | None = None, overstaying: bool | None = None) -> sa.Select:
    """Landlords: tenancies of their houses; committees: their village's; by end date."""
    stmt = _theirs(sa.select(RrTenancy).join(RrHouse, RrHouse.id == RrTenancy.house_id), principal,
                   RrTenancy.village_id)
    if state:
        stmt = stmt.where(RrTenancy.state == state)
    if overstaying:
        stmt = stmt.where(stays.overstaying(local_date(current_clock())))
    return stmt.order_by(RrTenancy.ends_on, RrTenancy.id)


@blp.route("/houses")
class Houses(MethodView):
    @require_auth
    @blp.arguments(HouseListArgs, location="query")
    @blp.response(200, page_of(HouseSchema, "RuralRentalHousePageSchema"))
    def get(self, args):
        """Landlords: their houses. Village committees: their village's (``state``, ``inspection_due_by``)."""
        session = get_session()
        stmt = houses_listed(current_principal(), state=args.pop("state"), due=args.pop("inspection_due_by"))
        page = paginate(session, stmt, args)
        return {**page, "items": [house_view(session, h, with_tenants=False) for h in page["items"]]}

    @idempotent
    @require_resident
    @blp.arguments(HouseCreateSchema)
    @blp.response(201, HouseSchema)
    def post(self, args):
        """Register your house in your village with its rooms (a verified residence there is required);
        the village committee inspects it before its rooms are listed."""
        session = get_session()
        house = svc.register_house(session, clock=current_clock(), principal=current_principal(), data=args)
        answer = house_view(session, house)
        session.commit()
        return answer


@blp.route("/houses/<int:house_id>")
class HouseItem(MethodView):
    @visible_object("rr_house", "house_id")
    @require_auth
    @blp.response(200, HouseSchema)
    def get(self, house_id: int):
        """A house with its rooms and current tenants (names and ID numbers masked): its landlord and
        its village's committee."""
        return house_view(get_session(), loaded("rr_house"))


@blp.route("/houses/<int:house_id>/inspections")
class Inspections(MethodView):
    @idempotent
    @visible_object("rr_house", "house_id")
    @require_staff
    @blp.arguments(InspectionSchema)
    @blp.response(201, InspectionResultSchema)
    def post(self, args, house_id: int):
        """The village committee's safety inspection: every checklist item true passes (the house is
        approved and its rooms listed; green-card after two passes in a row); a failure suspends it."""
        session = get_session()
        house = loaded("rr_house")
        inspection = svc.inspect(session, clock=current_clock(), principal=current_principal(), config=CONFIG,
                                 house=house, data=args)
        answer = {"id": inspection.id, "passed": inspection.passed, "next_on": inspection.next_on,
                  "house": house_view(session, house)}
        session.commit()
        return answer


@blp.route("/tenancies")
class Tenancies(MethodView):
    @idempotent
    @require_resident
    @blp.arguments(TenancyFormSchema)
    @blp.response(201, TenancySchema)
    def post(self, args):
        """租前审批: submit a tenancy of your room (tenants by ID number, real-name verified; a period);
        the village committee approves it through ``/applications/<application_id>/approve``."""
        session = get_session()
        tenancy = svc.submit_tenancy(session, clock=current_clock(), principal=current_principal(), config=TENANCY,
                                     form=args)
        answer = tenancy_view(session, tenancy)
        session.commit()
        return answer

    @require_auth
    @blp.arguments(TenancyListArgs, location="query")
    @blp.response(200, page_of(TenancySchema, "RuralRentalTenancyPageSchema"))
    def get(self, args):
        """Landlords: tenancies of their houses. Village committees: their village's (``state``;
        ``overstaying``: past their end with a tenant not deregistered)."""
        session = get_session()
        stmt = tenancies_listed(current_principal(), state=args.pop("state"), overstaying=args.pop("overstaying"))
        page = paginate(session, stmt, args)
        return {**page, "items": [tenancy_view(session, t) for t in page["items"]]}


def tenancy_view(session, tenancy: RrTenancy) -> dict[str, Any]:
    view = {c: getattr(tenancy, c) for c in ("id", "room_id", "house_id", "persons", "starts_on", "ends_on", "state",
                                            "application_id")}
    rows = session.scalars(sa.select(RrStay).where(RrStay.tenancy_id == tenancy.id).order_by(RrStay.id)).all()
    view["stays"] = [{"arrived_at": r.arrived_at, "left_at": r.left_at, "via": r.via} for r in rows]
    view["overstaying"] = (tenancy.state == "approved" and tenancy.ends_on <= local_date(current_clock())
                           and any(r.left_at is None for r in rows))
    return view


@blp.route("/tenancies/<int:tenancy_id>")
class TenancyItem(MethodView):
    @visible_object("rr_tenancy", "tenancy_id")
    @require_auth
    @blp.response(200, TenancySchema)
    def get(self, tenancy_id: int):
        """A tenancy with its arrivals and departures (its landlord, its village's committee, its tenants)."""
        return tenancy_view(get_session(), loaded("rr_tenancy"))


def _stay_view(name: str, service) -> None:
    def post(self, args, tenancy_id: int):
        session = get_session()
        tenancy = loaded("rr_tenancy")
        try:
            service(session, clock=current_clock(), principal=current_principal(), tenancy=tenancy, data=args)
        except QrError:
            session.commit()  # the rejected scan is kept
            raise
        answer = tenancy_view(session, tenancy)
        session.commit()
        return answer

    post.__doc__ = {"arrivals": "人来登记: a tenant arrives (scan their personal code, or their verified ID number); "
                                "the landlord or the village committee. 409 `no_approved_tenancy`, `not_a_tenant`.",
                    "departures": "人走注销: a tenant leaves. 409 `not_arrived`."}[name]
    decorated = blp.response(200, TenancySchema)(post)
    decorated = blp.arguments(TenantIdentitySchema)(decorated)
    decorated = require_auth(decorated)
    decorated = visible_object("rr_tenancy", "tenancy_id")(decorated)
    decorated = idempotent(decorated)
    view = type(f"RuralRentalTenancy{name.capitalize()}View", (MethodView,), {"post": decorated})
    blp.route(f"/tenancies/<int:tenancy_id>/{name}", endpoint=f"tenancy_{name}")(view)


_stay_view("arrivals", stays.arrive)
_stay_view("departures", stays.depart)


def _tenancy(session, key: Any) -> RrTenancy | None:
    return session.get(RrTenancy, key) if isinstance(key, int) and 0 < key < 2**63 else None


def _sees_tenancy(session, principal, tenancy: RrTenancy) -> bool:
    if principal.is_resident and principal.person_id in tenancy.tenant_person_ids:
        return True
    house = session.get(RrHouse, tenancy.house_id)
    return _sees_house(session, principal, house)


def blueprints() -> list[Blueprint]:
    register("rr_house", load=_house, visible=_sees_house,
             description="a rental house (its landlord; its village's committee)")
    register("rr_tenancy", load=_tenancy, visible=_sees_tenancy,
             description="a tenancy (its landlord, its village's committee, its tenants)")
    violation_routes.register_objects()
    request_routes.register_objects()
    return [blp, violation_routes.blp, request_routes.blp, approval_blueprint(TENANCY)]
