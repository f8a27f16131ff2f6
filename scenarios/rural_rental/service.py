"""rural-rental's rules: houses registered by villagers of the village, inspected by that village's
committee only, rooms listed on the listing engine once a house passes, tenancies approved by the
committee on the approval engine (租前审批) with the occupancy limit held under a lock.

The occupancy rule: approving a tenancy locks its room's row (``SELECT … FOR UPDATE``; SQLite's
``BEGIN IMMEDIATE`` serialises writers anyway), then sums the persons of the room's approved
tenancies that overlap the new one's period; over the limit → 409 ``room_over_occupancy`` and
the decision does not happen (the whole transaction rolls back). Two committee members approving
two tenancies of one room at once: the second waits for the first's lock and counts its tenants.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from app.places.models import Village
from app.places.service import local_date
from auth import pii
from auth.models import Person, Residence
from auth.principal import Principal
from scenarios.engines.approval.config import Refusal
from scenarios.engines.listing import service as listing
from scenarios.engines.listing.models import LsEntry
from scenarios.rural_rental.models import RrHouse, RrInspection, RrRentalRequest, RrRoom, RrTenancy, RrViolation

CHECKLIST = ("extinguisher", "smoke_alarm", "wiring", "gas", "escape_route", "area_and_occupancy")
TENANCY_SUBJECT = "rr_tenancy"


def village_by_code(session: Session, code: str) -> Village:
    village = session.scalar(sa.select(Village).where(Village.code == code))
    if village is None:
        raise ApiError("place_not_found", errors={"village": ["没有这个村"]})
    return village


def committee_of(session: Session, village_id: int) -> int:
    return session.scalar(sa.select(Village.committee_id).where(Village.id == village_id))


def is_committee(session: Session, principal: Principal, house: RrHouse) -> bool:
    return principal.is_staff and principal.org_id == committee_of(session, house.village_id)


def sees_house(session: Session, principal: Principal, house: RrHouse) -> bool:
    """A house (and what hangs on it) is seen by its landlord and its village's committee."""
    if principal.is_resident:
        return principal.account_id == house.landlord_account_id
    return is_committee(session, principal, house)


def register_house(session: Session, *, clock: Clock, principal: Principal, data: dict) -> RrHouse:
    """A villager with a verified residence in the village registers their house and its rooms."""
    village = village_by_code(session, data["village"])
    today = local_date(clock)
    lives_there = session.scalar(sa.select(Residence.id).where(
        Residence.person_id == principal.person_id, Residence.village_id == village.id,
        Residence.status == "verified", Residence.valid_from <= today,
        sa.or_(Residence.valid_to.is_(None), Residence.valid_to >= today)).limit(1))
    if lives_there is None:
        raise ApiError("not_a_villager", errors={"village": ["须为本村已核实的村民"]})
    if session.scalar(sa.select(RrHouse.id).where(RrHouse.village_id == village.id,
                                                  RrHouse.house_number == data["house_number"])):
        raise ApiError("house_registered", errors={"house_number": ["该门牌号的房屋已登记"]})
    house = RrHouse(village_id=village.id, house_number=data["house_number"], landlord_account_id=principal.account_id,
                    landlord_person_id=principal.person_id, address=data["address"],
                    lat=data.get("lat") or village.lat, lon=data.get("lon") or village.lon, state="registered",
                    green=False, created_at=clock.now())
    session.add(house)
    session.flush()
    for room in data["rooms"]:
        session.add(RrRoom(house_id=house.id, label=room["label"], area_m2=room["area_m2"], rent_fen=room["rent_fen"],
                           occupancy_limit=room["occupancy_limit"], facilities=list(room.get("facilities") or ())))
    session.flush()
    return house


def rooms_of(session: Session, house: RrHouse) -> list[RrRoom]:
    return list(session.scalars(sa.select(RrRoom).where(RrRoom.house_id == house.id).order_by(RrRoom.id)))


GREEN_CARD_PASSED_INSPECTIONS = 2
GREEN_CARD_VIOLATION_FREE_MONTHS = 12
"""绿牌 policy: the last two inspections passed and no violation found in the last 12 months."""


def violation_window_start(today: date) -> date:
    """The day ``GREEN_CARD_VIOLATION_FREE_MONTHS`` months before ``today`` (29 Feb → 28 Feb)."""
    months = today.year * 12 + today.month - 1 - GREEN_CARD_VIOLATION_FREE_MONTHS
    year, month = divmod(months, 12)
    month += 1
    last_day = (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(today.day, last_day))


def green_card(session: Session, house: RrHouse, today: date) -> bool:
    """绿牌: the house is approved, its last two inspections passed and no violation was found
    after ``violation_window_start(today)``."""
    if house.state != "approved":
        return False
    last = session.scalars(sa.select(RrInspection.passed).where(RrInspection.house_id == house.id)
                           .order_by(RrInspection.inspected_at.desc(), RrInspection.id.desc())
                           .limit(GREEN_CARD_PASSED_INSPECTIONS)).all()
    if len(last) < GREEN_CARD_PASSED_INSPECTIONS or not all(last):
        return False
    return session.scalar(sa.select(RrViolation.id).where(
        RrViolation.house_id == house.id, RrViolation.found_on > violation_window_start(today)).limit(1)) is None


def refresh_green(session: Session, house: RrHouse, today: date) -> None:
    """Recompute the green card and rank the house's listed rooms by it (green first in search)."""
    house.green = green_card(session, house, today)
    listing.set_rank(session, [r.listing_id for r in rooms_of(session, house) if r.listing_id], int(house.green))


def inspect(session: Session, *, clock: Clock, principal: Principal, config: Any, house: RrHouse,
            data: dict) -> RrInspection:
    """The village committee's inspection; a pass approves the house and lists its rooms (green
    houses ranked first), a failure takes its rooms off."""
    if not is_committee(session, principal, house):
        raise ApiError("forbidden")
    checklist = data["checklist"]
    passed = all(checklist.get(item) is True for item in CHECKLIST)
    today = local_date(clock)
    next_on = data.get("next_on") or today + timedelta(days=365 if passed else 30)
    if next_on <= today:
        raise ApiError("validation_error", errors={"next_on": ["须晚于今天"]})
    inspection = RrInspection(house_id=house.id, committee_org_id=principal.org_id,
                              inspector_account_id=principal.account_id, checklist=checklist, passed=passed,
                              photos=list(data.get("photos") or ()), next_on=next_on, inspected_at=clock.now())
    session.add(inspection)
    session.flush()
    house.state = "approved" if passed else "suspended"
    house.next_inspection_on = next_on
    house.green = green_card(session, house, today)
    village = session.get(Village, house.village_id)
    for room in rooms_of(session, house):
        _list_room(session, clock=clock, config=config, house=house, room=room, village=village, on=passed)
    session.flush()
    return inspection


def _list_room(session: Session, *, clock: Clock, config: Any, house: RrHouse, room: RrRoom, village: Village,
               on: bool) -> None:
    """The room's listing entry: published (the committee moderated it by inspecting), or withdrawn."""
    now = clock.now()
    entry = session.get(LsEntry, room.listing_id) if room.listing_id else None
    if entry is None:
        if not on:
            return
        title = f"{village.name} {house.house_number}号 {room.label}"
        entry = LsEntry(scenario=config.slug, owner_account_id=house.landlord_account_id,
                        owner_person_id=house.landlord_person_id, moderator_org_id=village.committee_id,
                        category="room", place=village.code, title=title, text="、".join(room.facilities),
                        address=house.address,
                        lat=house.lat, lon=house.lon, price_fen=room.rent_fen, photos=[],
                        details={"village": village.code, "house_id": house.id, "room_id": room.id,
                                 "area_m2": room.area_m2, "occupancy_limit": room.occupancy_limit},
                        search_text=listing._search_text(title, "、".join(room.facilities), house.address),
                        rank=0, state="published", created_at=now, updated_at=now, published_at=now)
        session.add(entry)
        session.flush()
        room.listing_id = entry.id
    else:
        entry.state = "published" if on else "withdrawn"
        entry.updated_at = now
        if on:
            entry.published_at = now
    entry.rank = 1 if house.green else 0


# ---------------------------------------------------------------- tenancies (租前审批)


def persons_by_id_numbers(session: Session, id_numbers: list[str]) -> list[Person]:
    found = []
    for i, number in enumerate(id_numbers):
        person = session.scalar(sa.select(Person).where(
            Person.id_number_hash == pii.lookup_hash("person.id_number", number.upper())))
        if person is None:
            raise ApiError("tenant_not_verified", errors={f"form.tenants.{i}": ["没有该身份证号的实名用户"]})
        found.append(person)
    return found


def tenants_verified(session: Session, *, principal: Principal, form: dict) -> Refusal | None:
    persons = persons_by_id_numbers(session, form["tenants"])
    if any(p.real_name_level == "none" for p in persons):
        return Refusal("tenant_not_verified", "租客须完成实名认证", "form.tenants")
    return None


def room_of_landlord(session: Session, *, principal: Principal, form: dict) -> Refusal | None:
    row = session.execute(sa.select(RrRoom, RrHouse).join(RrHouse, RrHouse.id == RrRoom.house_id)
                          .where(RrRoom.id == form["room_id"])).first()
    if row is None or row.RrHouse.landlord_account_id != principal.account_id:
        return Refusal("room_not_yours", "不是您登记的房间", "form.room_id")
    if row.RrHouse.state != "approved":
        return Refusal("house_not_inspected", "房屋尚未通过安全检查", "form.room_id")
    if len(form["tenants"]) > row.RrRoom.occupancy_limit:
        return Refusal("room_over_occupancy", f"该房间最多住 {row.RrRoom.occupancy_limit} 人", "form.tenants")
    return None


def reviewer_for(session: Session, *, principal: Principal, form: dict) -> int:
    house = session.scalar(sa.select(RrHouse).join(RrRoom, RrRoom.house_id == RrHouse.id)
                           .where(RrRoom.id == form["room_id"]))
    return committee_of(session, house.village_id)


def occupied(session: Session, room_id: int, starts_on: date, ends_on: date, *, exclude: int | None = None) -> int:
    """The most persons of approved tenancies of the room on any one day of [starts_on, ends_on):
    tenancies overlapping that period, summed at each start day inside it (the peaks)."""
    rows = session.execute(sa.select(RrTenancy.starts_on, RrTenancy.ends_on, RrTenancy.persons).where(
        RrTenancy.room_id == room_id, RrTenancy.state == "approved", RrTenancy.starts_on < ends_on,
        RrTenancy.ends_on > starts_on, RrTenancy.id != (exclude or 0))).all()
    days = {max(starts_on, r.starts_on) for r in rows} | {starts_on}
    return max((sum(r.persons for r in rows if r.starts_on <= d < r.ends_on) for d in days), default=0)


def on_tenancy_decision(session: Session, *, clock: Clock, application: Any, action: str) -> None:
    """The approval engine's ``on_decision``: the tenancy follows its application; an approval
    first locks the room and checks the limit at every moment of the period. A rejected or
    withdrawn tenancy no longer answers its rental request (a new tenancy may)."""
    tenancy = session.scalar(sa.select(RrTenancy).where(RrTenancy.application_id == application.id))
    if tenancy is None:
        return
    if action == "approve":
        room = session.scalar(sa.select(RrRoom).where(RrRoom.id == tenancy.room_id).with_for_update())
        if occupied(session, room.id, tenancy.starts_on, tenancy.ends_on) + tenancy.persons > room.occupancy_limit:
            raise ApiError("room_over_occupancy", detail={"occupancy_limit": room.occupancy_limit})
        tenancy.state = "approved"
    elif action in ("reject", "withdraw"):
        tenancy.state = {"reject": "rejected", "withdraw": "withdrawn"}[action]
        _answer_request(session, tenancy, None)
    session.flush()


def on_tenancy_resubmit(session: Session, *, clock: Clock, application: Any, form: dict) -> None:
    """The approval engine's ``on_resubmit``: the tenancy takes the corrected form's room, tenants,
    period and rental request (the stored form holds the ID numbers masked, so it comes loaded)."""
    from scenarios.rural_rental.rental_requests import check_unused

    tenancy = session.scalar(sa.select(RrTenancy).where(RrTenancy.application_id == application.id))
    if tenancy is None:
        return
    check_period(form)
    check_unused(session, form.get("request_id"), tenancy_id=tenancy.id)
    _fill(session, tenancy, form)
    _answer_request(session, tenancy, form.get("request_id"))
    session.flush()


def check_period(form: dict) -> None:
    if form["ends_on"] <= form["starts_on"]:
        raise ApiError("validation_error", errors={"form.ends_on": ["须晚于起租日"]})


def _fill(session: Session, tenancy: RrTenancy, form: dict) -> None:
    """The tenancy's room (and its house and village), tenants and period, from a loaded form."""
    room = session.get(RrRoom, form["room_id"])
    house = session.get(RrHouse, room.house_id)
    tenants = persons_by_id_numbers(session, form["tenants"])
    tenancy.room_id, tenancy.house_id, tenancy.village_id = room.id, house.id, house.village_id
    tenancy.tenant_person_ids, tenancy.persons = [p.id for p in tenants], len(tenants)
    tenancy.starts_on, tenancy.ends_on = form["starts_on"], form["ends_on"]


def _answer_request(session: Session, tenancy: RrTenancy, request_id: int | None) -> None:
    """The rental request this tenancy answers is ``request_id`` (checked by ``request_accepted`` and
    ``check_unused``), and no other."""
    session.execute(sa.update(RrRentalRequest).where(RrRentalRequest.tenancy_id == tenancy.id)
                    .values(tenancy_id=None).execution_options(synchronize_session=False))
    if request_id:
        session.execute(sa.update(RrRentalRequest).where(RrRentalRequest.id == request_id)
                        .values(tenancy_id=tenancy.id).execution_options(synchronize_session=False))


def submit_tenancy(session: Session, *, clock: Clock, principal: Principal, config: Any, form: dict) -> RrTenancy:
    """The landlord submits a tenancy (room, tenants by ID number, period) for the committee's approval."""
    from scenarios.engines.approval import service as approval
    from scenarios.rural_rental.rental_requests import check_unused

    check_period(form)
    check_unused(session, form.get("request_id"))
    application = approval.create(session, clock=clock, principal=principal, config=config,
                                  form=_form_json(form), subject_type=TENANCY_SUBJECT)
    tenancy = RrTenancy(state="pending", application_id=application.id, created_at=clock.now())
    _fill(session, tenancy, form)
    session.add(tenancy)
    session.flush()
    application.subject_id = str(tenancy.id)
    _answer_request(session, tenancy, form.get("request_id"))
    return tenancy


def _form_json(form: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in form.items()}
