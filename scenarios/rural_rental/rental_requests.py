"""A tenant applying from a listing: a real-name verified resident asks for a published room
(how many persons, which period, a message); the landlord accepts or declines; an accepted
request leads to the tenancy the landlord submits for 租前审批 (``request_id`` in its form: the
requester must be among its tenants, and the request is then used up).

Each decision is a compare-and-set on ``pending`` (a second one: 409 ``rental_request_decided``);
the landlord is told of a new request and the tenant of the decision, through the outbox.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from app.notify.service import AUTO, Recipient, enqueue
from auth.models import Person
from auth.principal import Principal
from scenarios.engines.approval.config import Refusal
from scenarios.engines.listing.models import LsEntry
from scenarios.rural_rental.models import RrHouse, RrRentalRequest, RrRoom

SLUG = "rural-rental"
OUTCOMES = {"accepted": "房东已接受", "declined": "房东已婉拒"}


def _room_of(session: Session, listing_id: int) -> tuple[LsEntry, RrRoom, RrHouse]:
    entry = session.get(LsEntry, listing_id) if 0 < listing_id < 2**63 else None
    room = session.scalar(sa.select(RrRoom).where(RrRoom.listing_id == listing_id)) if entry else None
    if entry is None or entry.scenario != SLUG or room is None:
        raise ApiError("not_found", errors={"listing_id": ["没有这个房源"]})
    if entry.state != "published":
        raise ApiError("room_not_available", errors={"listing_id": ["该房源已下架"]})
    return entry, room, session.get(RrHouse, room.house_id)


def apply(session: Session, *, clock: Clock, principal: Principal, data: dict) -> RrRentalRequest:
    """A real-name verified resident asks for a published room."""
    person = session.get(Person, principal.person_id) if principal.person_id else None
    if person is None or person.real_name_level == "none":
        raise ApiError("tenant_not_verified", errors={"person": ["须先完成实名认证"]})
    if data["ends_on"] <= data["starts_on"]:
        raise ApiError("validation_error", errors={"ends_on": ["须晚于起租日"]})
    entry, room, house = _room_of(session, data["listing_id"])
    if house.landlord_account_id == principal.account_id:
        raise ApiError("rental_request_own_room", errors={"listing_id": ["不能申请自己的房间"]})
    if data["persons"] > room.occupancy_limit:
        raise ApiError("room_over_occupancy", errors={"persons": [f"该房间最多住 {room.occupancy_limit} 人"]},
                       detail={"occupancy_limit": room.occupancy_limit})
    if session.scalar(sa.select(RrRentalRequest.id).where(
            RrRentalRequest.room_id == room.id, RrRentalRequest.tenant_person_id == person.id,
            RrRentalRequest.state == "pending").limit(1)):
        raise ApiError("rental_request_pending", errors={"listing_id": ["您已申请过该房间，请等待房东答复"]})
    request = RrRentalRequest(listing_id=entry.id, room_id=room.id, house_id=house.id,
                              landlord_account_id=house.landlord_account_id, tenant_account_id=principal.account_id,
                              tenant_person_id=person.id, persons=data["persons"], starts_on=data["starts_on"],
                              ends_on=data["ends_on"], message=data.get("message") or "", state="pending",
                              created_at=clock.now())
    session.add(request)
    session.flush()
    enqueue(session, event_key=f"rural_rental.request:{request.id}", template="rental_request_received",
            recipients=[Recipient.account(house.landlord_account_id)], clock=clock, channel=AUTO,
            payload={"request_id": request.id, "room": entry.title[:20], "persons": request.persons,
                     "starts_on": request.starts_on.isoformat()})
    return request


def _decide(session: Session, *, clock: Clock, request: RrRentalRequest, to: str, reason: str | None) -> None:
    now = clock.now()
    changed = session.execute(sa.update(RrRentalRequest).where(
        RrRentalRequest.id == request.id, RrRentalRequest.state == "pending")
        .values(state=to, reason=reason, decided_at=now).execution_options(synchronize_session=False))
    if changed.rowcount != 1:
        session.refresh(request)
        raise ApiError("rental_request_decided", detail={"state": request.state})
    session.refresh(request)


def accept(session: Session, *, clock: Clock, principal: Principal, request: RrRentalRequest,
           **_: Any) -> RrRentalRequest:
    """The landlord accepts: next they submit the tenancy (``request_id``) for 租前审批."""
    return _landlord_decides(session, clock=clock, principal=principal, request=request, to="accepted", reason=None)


def decline(session: Session, *, clock: Clock, principal: Principal, request: RrRentalRequest, reason: str,
            **_: Any) -> RrRentalRequest:
    """The landlord declines, with a reason the tenant sees."""
    return _landlord_decides(session, clock=clock, principal=principal, request=request, to="declined",
                             reason=reason)


def _landlord_decides(session: Session, *, clock: Clock, principal: Principal, request: RrRentalRequest, to: str,
                      reason: str | None) -> RrRentalRequest:
    if not (principal.is_resident and principal.account_id == request.landlord_account_id):
        raise ApiError("forbidden")
    _decide(session, clock=clock, request=request, to=to, reason=reason)
    title = session.scalar(sa.select(LsEntry.title).where(LsEntry.id == request.listing_id)) or ""
    enqueue(session, event_key=f"rural_rental.request_decided:{request.id}", template="rental_request_decided",
            recipients=[Recipient.account(request.tenant_account_id)], clock=clock, channel=AUTO,
            payload={"request_id": request.id, "room": title[:20], "outcome": OUTCOMES[to],
                     "note": (reason or "请等待房东提交租前审批")[:20]})
    return request


def withdraw(session: Session, *, clock: Clock, principal: Principal, request: RrRentalRequest,
             **_: Any) -> RrRentalRequest:
    """The tenant takes back a request still pending."""
    if not (principal.is_resident and principal.account_id == request.tenant_account_id):
        raise ApiError("forbidden")
    _decide(session, clock=clock, request=request, to="withdrawn", reason=None)
    return request


def request_accepted(session: Session, *, principal: Principal, form: dict) -> Refusal | None:
    """The approval rule of a tenancy naming ``request_id``: an accepted request of this landlord
    for this room whose requester is among the tenants (checked again on a resubmission, so a
    request already answered by this very tenancy passes: ``check_unused`` guards a second one)."""
    from scenarios.rural_rental.service import persons_by_id_numbers

    if not form.get("request_id"):
        return None
    request = session.get(RrRentalRequest, form["request_id"]) if 0 < form["request_id"] < 2**63 else None
    if request is None or request.landlord_account_id != principal.account_id:
        return Refusal("rental_request_not_accepted", "没有这个租房申请", "form.request_id")
    if request.state != "accepted":
        return Refusal("rental_request_not_accepted", "该租房申请未被房东接受", "form.request_id")
    if request.room_id != form["room_id"]:
        return Refusal("rental_request_not_accepted", "租房申请的房间与租约不符", "form.room_id")
    if request.tenant_person_id not in {p.id for p in persons_by_id_numbers(session, form["tenants"])}:
        return Refusal("rental_request_not_accepted", "申请人须在租客之中", "form.tenants")
    return None


def check_unused(session: Session, request_id: int | None, *, tenancy_id: int | None = None) -> None:
    """A tenancy (``tenancy_id``, or a new one) may not answer a request another tenancy answers
    already (409)."""
    if request_id and 0 < request_id < 2**63:
        used = session.scalar(sa.select(RrRentalRequest.tenancy_id).where(RrRentalRequest.id == request_id))
        if used is not None and used != tenancy_id:
            raise ApiError("rental_request_used", errors={"form.request_id": ["该租房申请已提交过租约"]},
                           detail={"tenancy_id": used})
