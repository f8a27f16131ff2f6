"""What parcel-locker does: a courier's delivery stores a parcel in a free cell for a phone
number, the recipient (and a relative they name) picks it up with a single-use pass that the
locker verifies, overdue parcels remind and then go back to the operator.

Who may: a locker device stores parcels in its own cells and verifies passes for them; the
operator's staff store through the API (naming the locker) and retrieve; the recipient — the
resident whose phone is the parcel's — sees it with its pass and names a relative; the
relative sees it and its pass too. Visibility (404) is decided before these run
(``visibility.py``); what is left here is 403 and 409.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.db import insert_for
from app.errors import ApiError
from app.notify.service import AUTO, Recipient, enqueue
from app.places.models import Community
from app.sms.channel import phone_recipient
from app.timers import Timer, cancel, pending_for, schedule_many
from auth import pii
from auth.models import RESIDENT_ACCOUNT_KINDS, Account, Device, Membership, Person, PersonRelation
from auth.principal import Principal
from qr import passes
from qr.scans import Scanner
from qr.service import verify
from scenarios.parcel_locker.models import STORED, Cell, Locker, Parcel, ParcelEvent

PURPOSE = "parcel_locker"
SUBJECT = "pl_parcel"
OVERDUE = "parcel_locker.overdue"
PHONE_RECIPIENT = "parcel_phone"
"""Outbox recipient kind of a parcel's phone that no resident has on record (SMS only)."""
REMIND_AFTER = timedelta(hours=24)
OPERATOR_AFTER = timedelta(hours=72)
PASS_DAYS = timedelta(days=30)
"""The pass lives until pickup; its token needs an end, far past the operator's retrieval."""
PHONE_PURPOSE = "person.phone"


def phone_hash(phone: str) -> str:
    """The keyed hash a parcel's recipient is found by (the same as ``persons.phone_hash``)."""
    return pii.lookup_hash(PHONE_PURPOSE, phone)


def pass_ref(parcel_id: int) -> str:
    return f"parcel:{parcel_id}"


def _event(session: Session, parcel: Parcel, action: str, actor: str, at: datetime,
           detail: str | None = None) -> ParcelEvent:
    event = ParcelEvent(parcel_id=parcel.id, action=action, actor=actor, detail=detail, at=at)
    session.add(event)
    return event


def _actor(principal: Principal) -> str:
    return principal.kind if principal.kind in ("device", "staff", "resident") else "system"


# ---------------------------------------------------------------- lockers


def add_locker(session: Session, *, clock: Clock, operator_id: int, device: Device, name: str,
               community_id: int | None, cells: list[dict]) -> Locker:
    """A locker device of the operator with its cells (labels unique within the locker)."""
    if device.organisation_id != operator_id or device.kind != "locker":
        raise ApiError("validation_error", errors={"device_id": ["须为本单位的快件箱设备。"]})
    labels = [c["label"] for c in cells]
    if len(set(labels)) != len(labels):
        raise ApiError("validation_error", errors={"cells": ["格口编号不能重复。"]})
    if session.scalar(sa.select(Locker.id).where(Locker.device_id == device.id)) is not None:
        raise ApiError("conflict")
    locker = Locker(device_id=device.id, operator_id=operator_id, community_id=community_id, name=name,
                    created_at=clock.now())
    session.add(locker)
    session.flush()
    session.add_all([Cell(locker_id=locker.id, label=c["label"], size=c["size"]) for c in cells])
    session.flush()
    return locker


_CELL = (sa.select(Locker, Cell).join(Cell, Cell.locker_id == Locker.id)
         .where(Cell.label == sa.bindparam("label")))


def _locker_and_cell(session: Session, principal: Principal, *, locker: str | None, cell: str) -> tuple[Locker, Cell]:
    if principal.kind == "device":
        stmt = _CELL.where(Locker.device_id == principal.device_id)
    else:
        if locker is None:
            raise ApiError("validation_error", errors={"locker": ["请指定快件箱（设备编号）。"]})
        stmt = _CELL.join(Device, Device.id == Locker.device_id).where(
            Device.uid == locker, Locker.operator_id == principal.org_id)
    row = session.execute(stmt, {"label": cell}).first()
    if row is not None:
        return row[0], row[1]
    if principal.kind == "device" and session.scalar(
            sa.select(Locker.id).where(Locker.device_id == principal.device_id)) is None:
        raise ApiError("locker_not_registered")
    if principal.kind == "staff" and session.scalar(sa.select(Locker.id).join(Device, Device.id == Locker.device_id)
                                                    .where(Device.uid == locker,
                                                           Locker.operator_id == principal.org_id)) is None:
        raise ApiError("validation_error", errors={"locker": ["本单位没有这个快件箱。"]})
    raise ApiError("cell_unknown", errors={"cell": ["该快件箱没有这个格口。"]})


# ---------------------------------------------------------------- storing


def recipient_accounts(session: Session, phone_hash_value: str) -> list[int]:
    """The active resident accounts of the persons whose phone is the parcel's."""
    return list(session.scalars(
        sa.select(Account.id).join(Person, Person.id == Account.person_id)
        .where(Person.phone_hash == phone_hash_value, Account.kind.in_(RESIDENT_ACCOUNT_KINDS),
               Account.status == "active")))


def accounts_of(session: Session, person_id: int) -> list[int]:
    return list(session.scalars(sa.select(Account.id).where(
        Account.person_id == person_id, Account.kind.in_(RESIDENT_ACCOUNT_KINDS), Account.status == "active")))


@dataclass(frozen=True)
class Stored:
    """A parcel just stored, with what its answer needs (read from nothing: the rows in hand)."""

    parcel: Parcel
    locker: Locker
    cell: Cell
    events: list[ParcelEvent]


STORED_ONLY = sa.text("status = 'stored'")


def store(session: Session, *, clock: Clock, principal: Principal, cell: str, recipient_phone: str,
          tracking_no: str, courier: str | None = None, locker: str | None = None) -> Stored:
    """A courier's delivery: the parcel takes the cell (409 ``cell_occupied`` when it holds one),
    its pass is issued, the recipient told, the overdue timers armed.

    The cell is taken by one ``INSERT … ON CONFLICT DO NOTHING`` on the partial unique index: of
    racing deliveries one row is inserted, the others find the conflict (after the winner
    commits, on PostgreSQL) and insert nothing."""
    now = clock.now()
    box, slot = _locker_and_cell(session, principal, locker=locker, cell=cell)
    phone = pii.normalise_mobile(recipient_phone)
    digest = phone_hash(phone)
    stmt = insert_for(session, Parcel).values(
        cell_id=slot.id, locker_id=box.id, operator_id=box.operator_id, tracking_no=tracking_no, courier=courier,
        recipient_phone=phone, recipient_phone_hash=digest, status=STORED, stored_at=now,
    ).on_conflict_do_nothing(index_elements=["cell_id"], index_where=STORED_ONLY).returning(Parcel)
    parcel = session.scalars(stmt).one_or_none()
    if parcel is None:
        raise ApiError("cell_occupied", errors={"cell": ["该格口已有快件。"]})
    row, _ = passes.issue_pass(session, purpose=PURPOSE, ref=pass_ref(parcel.id), single_use=True,
                               valid_until=now + PASS_DAYS, clock=clock)
    parcel.pass_id = row.id
    event = _event(session, parcel, "stored", _actor(principal), now, f"{box.name} {slot.label}")
    schedule_many(session, subject_type=SUBJECT, subject_id=parcel.id,
                  timers=[(OVERDUE, 0, now + REMIND_AFTER), (OVERDUE, 1, now + OPERATOR_AFTER)])
    _tell_recipient(session, clock, parcel, box, slot, "parcel_arrived", recipient_accounts(session, digest))
    return Stored(parcel, box, slot, [event])


def _tell_recipient(session: Session, clock: Clock, parcel: Parcel, box: Locker, slot: Cell, template: str,
                    accounts: list[int], *, suffix: str = "", text_bare_phone: bool = True) -> None:
    """The accounts are told in the app (or by SMS); a recipient phone no resident has on record
    gets the SMS itself (recipient kind ``parcel_phone``: the phone is read from the parcel at
    delivery, never copied into the outbox)."""
    if accounts:
        recipients, channel = [Recipient.account(a) for a in accounts], AUTO
    elif text_bare_phone:
        recipients, channel = [Recipient(PHONE_RECIPIENT, str(parcel.id))], "sms"
    else:
        return
    enqueue(session, event_key=f"parcel:{parcel.id}:{template}{suffix}", template=template,
            recipients=recipients, clock=clock, channel=channel,
            payload={"parcel_id": parcel.id, "locker": box.name, "cell": slot.label,
                     "tracking_tail": parcel.tracking_no[-4:], "stored_at": parcel.stored_at.isoformat()})


def _parcel_phone(session: Session, recipient_id: str) -> str | None:
    """The phone of a parcel still in its cell (a parcel picked up or retrieved is texted no more)."""
    parcel = session.get(Parcel, int(recipient_id))
    return parcel.recipient_phone if parcel is not None and parcel.status == STORED else None


phone_recipient(PHONE_RECIPIENT, _parcel_phone)


# ---------------------------------------------------------------- pickup


@dataclass(frozen=True)
class Pickup:
    parcel: Parcel
    locker: Locker
    cell: Cell


def pickup(session: Session, *, clock: Clock, principal: Principal, token: str, cell: str | None = None) -> Pickup:
    """The locker scanned a pickup pass: it must be for a parcel stored in this locker (and in
    ``cell`` when the locker names the cell it was asked to open); the pass is consumed and the
    parcel picked up in one transaction. A refusal after the pass was accepted raises, so the
    caller's rollback leaves the pass unused."""
    now = clock.now()
    verified = verify(session, token, clock=clock, allowed_purposes={PURPOSE},
                      scanner=Scanner("device", principal.device_id))
    parcel_id = int(verified.ref.partition(":")[2]) if verified.ref and verified.ref.startswith("parcel:") else 0
    parcel = session.get(Parcel, parcel_id, with_for_update=True)
    box = session.scalar(sa.select(Locker).where(Locker.device_id == principal.device_id))
    if box is None:
        raise ApiError("locker_not_registered")
    if parcel is None or parcel.locker_id != box.id:
        raise ApiError("parcel_wrong_locker")
    slot = session.get(Cell, parcel.cell_id)
    if cell is not None and slot.label != cell:
        raise ApiError("parcel_wrong_cell")
    if parcel.status != STORED:
        raise ApiError("parcel_not_stored")
    parcel.status, parcel.picked_up_at = "picked_up", now
    _event(session, parcel, "picked_up", "device", now, slot.label)
    cancel(session, subject_type=SUBJECT, subject_id=parcel.id, kind=OVERDUE)
    return Pickup(parcel, box, slot)


# ---------------------------------------------------------------- actions on a parcel


def is_recipient(session: Session, principal: Principal, parcel: Parcel) -> bool:
    if principal.kind != "resident" or principal.person_id is None:
        return False
    digest = session.scalar(sa.select(Person.phone_hash).where(Person.id == principal.person_id))
    return digest is not None and digest == parcel.recipient_phone_hash


def name_proxy(session: Session, *, clock: Clock, principal: Principal, parcel: Parcel, relation_id: int) -> Parcel:
    """The recipient names a relative (the other side of a confirmed relation of theirs) who may
    pick up: they see the parcel and its pass in their own list, and are told."""
    if not is_recipient(session, principal, parcel):
        raise ApiError("forbidden")
    if parcel.status != STORED:
        raise ApiError("parcel_not_stored")
    me = principal.person_id
    relation = session.get(PersonRelation, relation_id)
    if relation is None or relation.status != "confirmed" or me not in (relation.from_person_id,
                                                                        relation.to_person_id):
        raise ApiError("proxy_not_related", errors={"relation_id": ["须为您已确认的亲友关系。"]})
    other = relation.to_person_id if relation.from_person_id == me else relation.from_person_id
    now = clock.now()
    parcel.proxy_person_id = other
    _event(session, parcel, "proxy_named", "resident", now)
    box, slot = session.get(Locker, parcel.locker_id), session.get(Cell, parcel.cell_id)
    _tell_recipient(session, clock, parcel, box, slot, "parcel_proxy", accounts_of(session, other),
                    suffix=f":{other}", text_bare_phone=False)
    return parcel


def operator_parcels(operator_id: int, *, status: str | None = None, overdue_at: datetime | None = None) -> sa.Select:
    """An operator's parcels, oldest first (``GET /parcels`` and the console's list); ``status``
    filters; ``overdue_at``: only those still stored past the reminder at that time."""
    stmt = sa.select(Parcel).where(Parcel.operator_id == operator_id)
    if status:
        stmt = stmt.where(Parcel.status == status)
    if overdue_at is not None:
        stmt = stmt.where(Parcel.status == STORED, Parcel.stored_at < overdue_at - REMIND_AFTER)
    return stmt.order_by(Parcel.stored_at, Parcel.id)


def operator_lockers(operator_id: int) -> sa.Select:
    """An operator's lockers with their community's code (``GET /lockers`` and the console)."""
    return sa.select(Locker, Community.code).outerjoin(Community, Community.id == Locker.community_id).where(
        Locker.operator_id == operator_id).order_by(Locker.id)


def is_operator_staff(principal: Principal, parcel: Parcel) -> bool:
    return principal.kind == "staff" and principal.org_id == parcel.operator_id


def retrieve(session: Session, *, clock: Clock, principal: Principal, parcel: Parcel, reason: str) -> Parcel:
    """The operator takes an uncollected parcel out of its cell (the cell is free again); its
    pass is revoked and its timers cancelled."""
    if not is_operator_staff(principal, parcel):
        raise ApiError("forbidden")
    now = clock.now()
    changed = session.execute(sa.update(Parcel).where(Parcel.id == parcel.id, Parcel.status == STORED)
                              .values(status="retrieved", retrieved_at=now)).rowcount
    if not changed:
        raise ApiError("parcel_not_stored")
    session.refresh(parcel)
    if parcel.pass_id is not None:
        passes.revoke_pass(session, parcel.pass_id, clock=clock, reason="retrieved")
    _event(session, parcel, "retrieved", "staff", now, reason)
    cancel(session, subject_type=SUBJECT, subject_id=parcel.id, kind=OVERDUE)
    return parcel


# ---------------------------------------------------------------- overdue


def operator_staff(session: Session, operator_id: int) -> list[Recipient]:
    """The operator's active managers and staff (the organisation itself when it has none)."""
    members = sa.select(Membership.account_id).join(Account, Account.id == Membership.account_id).where(
        Membership.organisation_id == operator_id, Membership.status == "active", Account.status == "active")
    return [Recipient.account(a) for a in session.scalars(members)] or [Recipient("org", operator_id)]


def overdue(session: Session, *, clock: Clock, parcel_id: int, level: int) -> None:
    """24 h: the recipient is reminded; 72 h: the operator is told to retrieve it. Nothing for a
    parcel no longer stored (a pickup racing the timer: the row lock orders them)."""
    parcel = session.get(Parcel, parcel_id, with_for_update=True)
    if parcel is None or parcel.status != STORED:
        return
    now = clock.now()
    box, slot = session.get(Locker, parcel.locker_id), session.get(Cell, parcel.cell_id)
    if level == 0:
        _event(session, parcel, "reminded", "system", now)
        accounts = recipient_accounts(session, parcel.recipient_phone_hash)
        if parcel.proxy_person_id is not None:
            accounts += accounts_of(session, parcel.proxy_person_id)
        _tell_recipient(session, clock, parcel, box, slot, "parcel_reminder", accounts)
        return
    _event(session, parcel, "operator_told", "system", now)
    enqueue(session, event_key=f"parcel:{parcel.id}:parcel_retrieve", template="parcel_retrieve",
            recipients=operator_staff(session, parcel.operator_id), clock=clock, channel=AUTO,
            payload={"parcel_id": parcel.id, "ticket_no": f"PL{parcel.id}", "locker": box.name, "cell": slot.label,
                     "stored_at": parcel.stored_at.isoformat()})


def pending_timers(session: Session, parcel_id: int) -> list[Timer]:
    """The parcel's pending overdue timers (none once it left its cell)."""
    return pending_for(session, subject_type=SUBJECT, subject_id=parcel_id, kind=OVERDUE)
