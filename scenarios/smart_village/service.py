"""smart-village's rules: who belongs to a village (its committee's staff and devices, villagers
with a verified residence there), notices and their receipts, and the village summary
("一屏尽知全村事") for the screen in the village hall.

A ticket belongs to a village when its location is a house of the village (``village_id``) or its
point lies within the village's area (``app.places.areas``: a polygon, or a centre and a radius,
in the reference data). Rental figures come from whichever scenario provides them
(``app.places.facts``): this scenario reads no other scenario's tables.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import timers
from app.clock import Clock
from app.errors import ApiError
from app.fields import CST
from app.notify.service import AUTO, Notice, Recipient, enqueue_many
from app.places.areas import village_area
from app.places.facts import village_facts
from app.places.models import Village
from app.places.service import local_date
from auth import pii
from auth.models import Account, Person, Residence
from auth.principal import Principal
from scenarios.engines.workflow.models import Ticket
from scenarios.smart_village.models import SvNotice, SvReceipt


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
    tell_villagers(session, clock=clock, village=village, notice=notice)
    if notice.important:
        schedule_confirmation_reminders(session, notice)
    return notice


CONFIRMATION = "smart_village.confirmation"
"""The timer kind of an important notice's follow-up: levels 1.. remind the villagers who have not
confirmed, the last level tells the committee who still has not."""
CONFIRMATION_REMINDERS = (timedelta(hours=24), timedelta(hours=72))
COMMITTEE_TOLD_AFTER = timedelta(hours=96)
"""Policy (the issue is silent): reminders 24 h and 72 h after publication, the committee told a day
after the last one."""


def confirmation_steps() -> list[tuple[int, timedelta]]:
    """(level, delay after publication): the reminders, then the committee (the last level)."""
    delays = (*CONFIRMATION_REMINDERS, COMMITTEE_TOLD_AFTER)
    return [(level, delay) for level, delay in enumerate(delays, start=1)]


def schedule_confirmation_reminders(session: Session, notice: SvNotice) -> None:
    """An important notice's timers, in its publishing transaction (one per level: the timers'
    unique key makes each fire once, whatever the workers)."""
    timers.schedule_many(session, subject_type="sv_notice", subject_id=notice.id, timers=[
        (CONFIRMATION, level, notice.published_at + delay) for level, delay in confirmation_steps()])


def _villager_residences(village_id: int, today) -> sa.Select:
    return sa.select(Residence.person_id, sa.func.min(Residence.house_number).label("house_number")).where(
        Residence.village_id == village_id, Residence.status == "verified", Residence.valid_from <= today,
        sa.or_(Residence.valid_to.is_(None), Residence.valid_to >= today)).group_by(Residence.person_id)


def unconfirmed(notice: SvNotice, today) -> sa.Select:
    """The villagers (persons with a verified residence in the village today) none of whose
    accounts confirmed the notice: ``person_id``, ``house_number``, ``read`` (an account read it);
    by house number."""
    villagers = _villager_residences(notice.village_id, today).subquery()
    receipts = sa.select(SvReceipt.confirmed_at).join(Account, Account.id == SvReceipt.account_id).where(
        SvReceipt.notice_id == notice.id, Account.person_id == villagers.c.person_id)
    confirmed = receipts.where(SvReceipt.confirmed_at.is_not(None)).exists()
    return (sa.select(villagers.c.person_id, villagers.c.house_number, receipts.exists().label("read"))
            .where(~confirmed).order_by(villagers.c.house_number, villagers.c.person_id))


def unconfirmed_view(session: Session, rows: list[Any]) -> list[dict[str, Any]]:
    """The committee's list: names masked, house number, whether they read it."""
    names = {p.id: p.name for p in session.scalars(sa.select(Person).where(
        Person.id.in_([r.person_id for r in rows])))} if rows else {}
    return [{"name": pii.mask_name(names[r.person_id]) if names.get(r.person_id) else None,
             "house_number": r.house_number, "read": bool(r.read)} for r in rows]


def remind_unconfirmed(session: Session, *, clock: Clock, notice: SvNotice, level: int) -> int:
    """Level ``level`` of an important notice's follow-up: the villagers who have not confirmed are
    reminded (each active account of theirs, once per level), or at the last level the committee is
    told how many have not (once). Returns how many messages were enqueued."""
    village = session.get(Village, notice.village_id)
    persons = sa.select(unconfirmed(notice, local_date(clock)).subquery().c.person_id)
    steps = confirmation_steps()
    if level >= steps[-1][0]:
        count = session.scalar(sa.select(sa.func.count()).select_from(persons.subquery()))
        if not count:
            return 0
        payload = {"notice_id": notice.id, "ticket_no": f"SV{notice.id:08d}", "title": notice.title[:20],
                   "village": village.name[:20], "unconfirmed": count, "at": clock.now().astimezone(CST).isoformat()}
        return enqueue_many(session, [Notice(f"smart_village.unconfirmed:{notice.id}", "village_notice_unconfirmed",
                                             (Recipient("org", village.committee_id),), payload, channel=AUTO)],
                            clock=clock)
    accounts = session.scalars(sa.select(Account.id).where(
        Account.person_id.in_(persons), Account.kind != "staff", Account.status == "active").order_by(Account.id)).all()
    if not accounts:
        return 0
    payload = {"notice_id": notice.id, "village": village.name[:20], "title": notice.title[:20],
               "kind": KIND_LABELS[notice.kind], "ask": "提醒：请尽快阅读并确认",
               "at": notice.published_at.astimezone(CST).isoformat()}
    return enqueue_many(session, [Notice(f"smart_village.reminder:{notice.id}:{level}", "village_notice",
                                         tuple(Recipient.account(a) for a in accounts), payload, channel=AUTO)],
                        clock=clock)


KIND_LABELS = {"notice": "通知", "finance": "财务公开", "project": "项目公开", "decision": "决策公开"}


def villager_accounts(session: Session, village: Village, today) -> list[int]:
    """Active resident accounts of persons with a verified residence in the village today."""
    persons = sa.select(Residence.person_id).where(
        Residence.village_id == village.id, Residence.status == "verified", Residence.valid_from <= today,
        sa.or_(Residence.valid_to.is_(None), Residence.valid_to >= today))
    return list(session.scalars(sa.select(Account.id).where(
        Account.person_id.in_(persons), Account.kind != "staff", Account.status == "active").order_by(Account.id)))


def tell_villagers(session: Session, *, clock: Clock, village: Village, notice: SvNotice) -> int:
    """Each villager is told of a new notice through the outbox (once per notice and account); an
    important one asks them to read and confirm it."""
    recipients = tuple(Recipient.account(a) for a in villager_accounts(session, village, local_date(clock)))
    payload = {"notice_id": notice.id, "village": village.name[:20], "title": notice.title[:20],
               "kind": KIND_LABELS[notice.kind], "ask": "请阅读并确认" if notice.important else "请阅读",
               "at": notice.published_at.astimezone(CST).isoformat()}
    return enqueue_many(session, [Notice(f"smart_village.notice:{notice.id}", "village_notice", recipients, payload,
                                         channel=AUTO)], clock=clock)


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


def open_tickets(session: Session, village: Village) -> int:
    """Open tickets at a house of the village, plus open tickets without a house whose point lies
    in the village's area (a bounding box in SQL, then the exact test)."""
    area = village_area(village)
    south, west, north, east = area.bbox()
    open_ = Ticket.is_open.is_(True)
    by_house = session.scalar(sa.select(sa.func.count()).select_from(Ticket).where(open_,
                                                                                   Ticket.village_id == village.id))
    near = session.execute(sa.select(Ticket.lat, Ticket.lon).where(
        open_, Ticket.village_id.is_(None), Ticket.lat.between(south, north), Ticket.lon.between(west, east))).all()
    return (by_house or 0) + sum(1 for r in near if area.contains(r.lat, r.lon))


def summary(session: Session, *, clock: Clock, village: Village) -> dict[str, Any]:
    today = local_date(clock)
    residents = session.scalar(sa.select(sa.func.count(sa.distinct(Residence.person_id))).where(
        Residence.village_id == village.id, Residence.status == "verified", Residence.valid_from <= today,
        sa.or_(Residence.valid_to.is_(None), Residence.valid_to >= today)))
    facts = village_facts(session, village=village, today=today)
    notices = session.scalars(sa.select(SvNotice).where(
        SvNotice.village_id == village.id, SvNotice.published_at >= clock.now() - timedelta(days=30))
        .order_by(SvNotice.published_at.desc()).limit(5)).all()
    return {"village": village.code, "name": village.name, "date": today.isoformat(), "residents": residents or 0,
            "rental": facts.get("rental", {"houses": {}, "beds": 0, "tenants": 0}),
            "open_tickets": open_tickets(session, village),
            "notices": [{"id": n.id, "kind": n.kind, "title": n.title, "important": n.important,
                         "published_at": n.published_at.isoformat()} for n in notices]}
