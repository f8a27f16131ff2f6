"""smart-village's rules: who belongs to a village (its committee's staff and devices, villagers
with a verified residence there), notices and their receipts, and the village summary
("一屏尽知全村事") for the screen in the village hall.

A ticket belongs to a village when its location is a house of the village (``village_id``) or its
point lies within the village's area: the reference data's centre and ``attributes.radius_m``
(1,500 m when absent).
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from app.geo import bounding_box, haversine_m
from app.places.models import Village
from app.places.service import local_date
from auth.models import Residence
from auth.principal import Principal
from scenarios.engines.workflow.models import Ticket
from scenarios.smart_village.models import SvNotice, SvReceipt

DEFAULT_RADIUS_M = 1500.0

# rural-rental's tables, named (not imported: scenarios never import each other) for the summary.
_houses = sa.table("rr_houses", sa.column("id"), sa.column("village_id"), sa.column("state"))
_rooms = sa.table("rr_rooms", sa.column("id"), sa.column("house_id"), sa.column("occupancy_limit"))
_tenancies = sa.table("rr_tenancies", sa.column("village_id"), sa.column("state"), sa.column("persons"),
                      sa.column("starts_on"), sa.column("ends_on"))


def is_committee(principal: Principal, village: Village) -> bool:
    return principal.kind in ("staff", "device") and principal.org_id == village.committee_id


def is_villager(session: Session, principal: Principal, village: Village, today) -> bool:
    if not principal.is_resident or principal.person_id is None:
        return False
    return session.scalar(sa.select(Residence.id).where(
        Residence.person_id == principal.person_id, Residence.village_id == village.id,
        Residence.status == "verified", Residence.valid_from <= today,
        sa.or_(Residence.valid_to.is_(None), Residence.valid_to >= today)).limit(1)) is not None


def publish(session: Session, *, clock: Clock, principal: Principal, village: Village, data: dict) -> SvNotice:
    if not (principal.is_staff and is_committee(principal, village)):
        raise ApiError("forbidden")
    notice = SvNotice(village_id=village.id, kind=data["kind"], title=data["title"], body=data["body"],
                      attachments=list(data.get("attachments") or ()), important=data["important"],
                      created_by_account_id=principal.account_id, published_at=clock.now())
    session.add(notice)
    session.flush()
    return notice


def read(session: Session, *, clock: Clock, principal: Principal, notice: SvNotice) -> SvReceipt | None:
    """A villager's reading is recorded (once); staff reads are not receipts."""
    if not principal.is_resident:
        return None
    receipt = session.scalar(sa.select(SvReceipt).where(SvReceipt.notice_id == notice.id,
                                                        SvReceipt.account_id == principal.account_id))
    if receipt is None:
        receipt = SvReceipt(notice_id=notice.id, account_id=principal.account_id, read_at=clock.now())
        session.add(receipt)
        session.flush()
    return receipt


def confirm(session: Session, *, clock: Clock, principal: Principal, notice: SvNotice) -> SvReceipt:
    if not principal.is_resident:
        raise ApiError("forbidden")
    receipt = read(session, clock=clock, principal=principal, notice=notice)
    if receipt.confirmed_at is None:
        receipt.confirmed_at = clock.now()
    return receipt


def in_village(village: Village, lat: float | None, lon: float | None) -> bool:
    radius = float((village.attributes or {}).get("radius_m") or DEFAULT_RADIUS_M)
    return lat is not None and lon is not None and haversine_m(village.lat, village.lon, lat, lon) <= radius


def open_tickets(session: Session, village: Village) -> int:
    radius = float((village.attributes or {}).get("radius_m") or DEFAULT_RADIUS_M)
    south, west, north, east = bounding_box(village.lat, village.lon, radius)
    open_ = Ticket.is_open.is_(True)
    by_house = session.scalar(sa.select(sa.func.count()).select_from(Ticket).where(open_,
                                                                                   Ticket.village_id == village.id))
    near = session.execute(sa.select(Ticket.lat, Ticket.lon).where(
        open_, Ticket.village_id.is_(None), Ticket.lat.between(south, north), Ticket.lon.between(west, east))).all()
    return (by_house or 0) + sum(1 for r in near if in_village(village, r.lat, r.lon))


def summary(session: Session, *, clock: Clock, village: Village) -> dict[str, Any]:
    today = local_date(clock)
    residents = session.scalar(sa.select(sa.func.count(sa.distinct(Residence.person_id))).where(
        Residence.village_id == village.id, Residence.status == "verified", Residence.valid_from <= today,
        sa.or_(Residence.valid_to.is_(None), Residence.valid_to >= today)))
    houses = dict(session.execute(sa.select(_houses.c.state, sa.func.count()).where(
        _houses.c.village_id == village.id).group_by(_houses.c.state)).all())
    capacity = session.scalar(sa.select(sa.func.coalesce(sa.func.sum(_rooms.c.occupancy_limit), 0)).select_from(
        _rooms.join(_houses, _houses.c.id == _rooms.c.house_id)).where(
        _houses.c.village_id == village.id, _houses.c.state == "approved"))
    tenants = session.scalar(sa.select(sa.func.coalesce(sa.func.sum(_tenancies.c.persons), 0)).where(
        _tenancies.c.village_id == village.id, _tenancies.c.state == "approved", _tenancies.c.starts_on <= today,
        _tenancies.c.ends_on > today))
    notices = session.scalars(sa.select(SvNotice).where(
        SvNotice.village_id == village.id, SvNotice.published_at >= clock.now() - timedelta(days=30))
        .order_by(SvNotice.published_at.desc()).limit(5)).all()
    return {"village": village.code, "name": village.name, "date": today.isoformat(), "residents": residents or 0,
            "rental": {"houses": houses, "beds": capacity or 0, "tenants": tenants or 0},
            "open_tickets": open_tickets(session, village),
            "notices": [{"id": n.id, "kind": n.kind, "title": n.title, "important": n.important,
                         "published_at": n.published_at.isoformat()} for n in notices]}
