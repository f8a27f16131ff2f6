"""Relations between persons: a guardian, proxy or family member acting for someone.

A resident adds a relation with the other person's name and resident ID number. The answer
is the same whoever that is — a person with an account, one without, one whose name on
record differs, nobody yet (then a person without an account is created) — so adding a
relation is no way to learn who is on record (issue 13, identity oracles): always ``201``,
status ``pending``, the name and number the caller typed shown back masked, no person id and
no word of an account.

A relation grants nothing (``may_act_for`` is False) until it is ``confirmed``:

- by the person it is about, in their app, when they are an adult with an account
  (``decide_as_subject``; they are told of the request);
- otherwise (no account, a child) by the committee of the place where they live, or where the
  requester lives when they have no residence on record (``decide_as_committee``), or by
  staff of an organisation in charge of that place who saw the ID card in person
  (``confirm_in_person``: staff type the name and number on the card).

The requester is told when the relation is confirmed or declined.
"""
from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from app.notify.service import AUTO, Recipient, enqueue
from auth import pii
from auth.accounts import person_of, validate_id_number, validate_name
from auth.models import RELATION_KINDS, RESIDENT_ACCOUNT_KINDS, Account, Person, PersonRelation, Residence
from auth.organisations import Organisation
from auth.principal import Principal
from auth.residences import LIVE_STATUSES, place_filter, today

SCOPES: dict[str, str] = {
    "act_all": "代办全部事项",
    "book_medical": "预约挂号、就诊",
    "view_medical": "查看病历、出院小结",
    "pay": "代缴费用",
    "school": "入学报名、校园事务",
    "elderly_care": "紧急呼叫联系人、养老服务",
    "apply": "代为申请、报名",
}
KIND_LABELS = {"guardian": "监护人", "proxy": "代办人", "family": "家属"}
MAX_RELATIONS = 20
ADULT_AGE = 18


def validate_allows(allows: list[str]) -> list[str]:
    unknown = sorted(set(allows) - set(SCOPES))
    if unknown or not allows:
        raise ApiError("validation_error", errors={"allows": [f"可选范围：{', '.join(SCOPES)}。"]})
    return sorted(set(allows))


def _holds(person: Person, id_number: str) -> bool:
    """Whether ``person`` gave this (normalised) ID number, held or only claimed."""
    return person.id_number_hash == Person.id_number_lookup(id_number) or person.claimed_id_number == id_number


def add(session: Session, *, clock: Clock, principal: Principal, name: str, id_number: str, kind: str,
        allows: list[str]) -> PersonRelation:
    """A ``pending`` relation from the caller to the person with this ID number (see the module
    docstring: one answer whoever that is)."""
    me = person_of(session, principal)
    if me.real_name_level == "none":
        raise ApiError("real_name_required")
    id_number = validate_id_number(id_number, clock=clock)
    name = validate_name(name)
    if kind not in RELATION_KINDS:
        raise ApiError("validation_error", errors={"kind": [f"可选：{', '.join(RELATION_KINDS)}。"]})
    allows = validate_allows(allows)
    if _holds(me, id_number):
        raise ApiError("relation_to_self", errors={"id_number": ["不能添加与自己的关系。"]})
    other = session.scalar(sa.select(Person).where(Person.id_number_hash == Person.id_number_lookup(id_number)))
    if other is None:
        other = Person(name=name, real_name_level="basic")
        other.set_id_number(id_number)
        session.add(other)
        session.flush()
    count = session.scalar(sa.select(sa.func.count()).select_from(PersonRelation)
                           .where(PersonRelation.from_person_id == me.id))
    if (count or 0) >= MAX_RELATIONS:
        raise ApiError("validation_error", errors={"_schema": [f"最多添加 {MAX_RELATIONS} 位关联人。"]})
    exists = session.scalar(sa.select(PersonRelation.id).where(
        PersonRelation.from_person_id == me.id, PersonRelation.to_person_id == other.id, PersonRelation.kind == kind))
    if exists is not None:
        raise ApiError("relation_exists")
    relation = PersonRelation(from_person_id=me.id, to_person_id=other.id, kind=kind, allows=allows,
                              status="pending", claimed_name=name, created_at=clock.now())
    session.add(relation)
    session.flush()
    subject_accounts = _resident_accounts(session, other.id)
    if subject_accounts and _adult(other, today(clock)):
        enqueue(session, event_key=f"relation:{relation.id}:requested", template="relation_requested",
                recipients=[Recipient.account(a) for a in subject_accounts], clock=clock, channel=AUTO,
                payload={"relation_id": relation.id, "requester": pii.mask_name(me.name),
                         "kind": KIND_LABELS[kind], "at": clock.now().isoformat()})
    return relation


def _resident_accounts(session: Session, person_id: int) -> list[int]:
    return list(session.scalars(sa.select(Account.id).where(
        Account.person_id == person_id, Account.status == "active",
        Account.kind.in_(RESIDENT_ACCOUNT_KINDS)).order_by(Account.id)).all())


def _adult(person: Person, on: date) -> bool:
    """Of age on ``on`` (a person whose birth date is unknown counts as an adult)."""
    born = person.birth_date
    if born is None:
        return True
    return (on.year - born.year - ((on.month, on.day) < (born.month, born.day))) >= ADULT_AGE


def confirmed_by_subject(session: Session, person: Person, on: date) -> bool:
    """Whether relations to ``person`` wait for them (an adult with an account) rather than
    for their committee or an in-person check."""
    return bool(_resident_accounts(session, person.id)) and _adult(person, on)


def of_person(session: Session, person_id: int) -> list[PersonRelation]:
    return list(session.scalars(sa.select(PersonRelation).where(
        sa.or_(PersonRelation.from_person_id == person_id, PersonRelation.to_person_id == person_id))
        .order_by(PersonRelation.id)).all())


def pending_for(session: Session, person_id: int) -> list[PersonRelation]:
    """Requests waiting for ``person_id`` to confirm or decline."""
    return list(session.scalars(sa.select(PersonRelation).where(
        PersonRelation.to_person_id == person_id, PersonRelation.status == "pending")
        .order_by(PersonRelation.id)).all())


def remove(session: Session, *, principal: Principal, relation_id: int) -> None:
    """Either side may end a relation."""
    relation = session.get(PersonRelation, relation_id)
    if relation is None or principal.person_id not in (relation.from_person_id, relation.to_person_id):
        raise ApiError("not_found")
    session.delete(relation)
    session.flush()


def may_act_for(session: Session, actor_person_id: int, subject_person_id: int, scope: str) -> bool:
    """Whether ``actor`` may act for ``subject`` in ``scope`` (oneself always may): only
    through a ``confirmed`` relation."""
    if actor_person_id == subject_person_id:
        return True
    stmt = sa.select(PersonRelation).where(PersonRelation.from_person_id == actor_person_id,
                                           PersonRelation.to_person_id == subject_person_id,
                                           PersonRelation.status == "confirmed")
    return any(scope in rel.allows or "act_all" in rel.allows for rel in session.scalars(stmt))


# ---------------------------------------------------------------- deciding


def _decide(session: Session, clock: Clock, relation: PersonRelation, *, confirm: bool, via: str,
            principal: Principal) -> PersonRelation:
    if relation.status != "pending":
        raise ApiError("relation_not_pending")
    relation.status = "confirmed" if confirm else "declined"
    relation.decided_via = via
    relation.decided_at = clock.now()
    relation.decided_by_account_id = principal.account_id
    relation.decided_by_org_id = principal.org_id if principal.is_staff else None
    session.flush()
    requester = _resident_accounts(session, relation.from_person_id)
    subject = session.get(Person, relation.to_person_id)
    enqueue(session, event_key=f"relation:{relation.id}:{relation.status}", template="relation_decided",
            recipients=[Recipient.account(a) for a in requester], clock=clock, channel=AUTO,
            payload={"relation_id": relation.id, "subject": pii.mask_name(relation.claimed_name or subject.name),
                     "outcome": "已确认" if confirm else "未通过", "at": clock.now().isoformat()})
    return relation


def decide_as_subject(session: Session, *, clock: Clock, principal: Principal, relation_id: int,
                      confirm: bool) -> PersonRelation:
    """The person a relation is about confirms or declines it: 404 when it is not theirs to
    see, 403 for the requester (who sees it but may not confirm their own request) and for a
    child (their committee confirms)."""
    relation = session.get(PersonRelation, relation_id)
    if relation is None or principal.person_id not in (relation.from_person_id, relation.to_person_id):
        raise ApiError("not_found")
    if relation.to_person_id != principal.person_id:
        raise ApiError("forbidden")
    me = person_of(session, principal)
    if not _adult(me, today(clock)):
        raise ApiError("relation_confirmed_by_committee")
    return _decide(session, clock, relation, confirm=confirm, via="subject", principal=principal)


# ---------------------------------------------------------------- staff: committees and in person


def _in_places_of(org: Organisation, on: date) -> sa.ColumnElement[bool]:
    """Relations about someone living in ``org``'s places, or, when they have no residence on
    record, asked by someone living there."""
    def lives(person_col: Any, *, here: bool) -> sa.Exists:
        cond = [Residence.person_id == person_col, Residence.status.in_(LIVE_STATUSES), Residence.valid_from <= on,
                sa.or_(Residence.valid_to.is_(None), Residence.valid_to >= on)]
        if here:
            cond.append(place_filter(org, on))
        return sa.exists().where(*cond)

    return sa.or_(lives(PersonRelation.to_person_id, here=True),
                  sa.and_(~lives(PersonRelation.to_person_id, here=False),
                          lives(PersonRelation.from_person_id, here=True)))


def _without_subject_confirmation(on: date) -> sa.ColumnElement[bool]:
    """The subject is a child or has no active resident account (``confirmed_by_subject`` in SQL)."""
    adult_born_by = date(on.year - ADULT_AGE, on.month, 28 if (on.month, on.day) == (2, 29) else on.day)
    has_account = sa.exists().where(Account.person_id == PersonRelation.to_person_id, Account.status == "active",
                                    Account.kind.in_(RESIDENT_ACCOUNT_KINDS))
    child = sa.exists().where(Person.id == PersonRelation.to_person_id, Person.birth_date > adult_born_by)
    return sa.or_(~has_account, child)


def for_staff(org: Organisation, *, on: date, status: str | None = "pending") -> sa.Select:
    """Relations ``org``'s staff may verify: in its places, not waiting for their subject."""
    stmt = sa.select(PersonRelation).where(_in_places_of(org, on), _without_subject_confirmation(on))
    if status:
        stmt = stmt.where(PersonRelation.status == status)
    return stmt.order_by(PersonRelation.id)


def relation_for_staff(session: Session, *, clock: Clock, org: Organisation, relation_id: int) -> PersonRelation:
    relation = session.scalar(for_staff(org, on=today(clock), status=None).where(PersonRelation.id == relation_id))
    if relation is None:
        raise ApiError("not_found")
    return relation


def name_matches(session: Session, relation: PersonRelation) -> bool:
    """Whether the name the requester typed is the name on record (for staff only)."""
    subject = session.get(Person, relation.to_person_id)
    return subject.name is None or subject.name == relation.claimed_name


def decide_as_committee(session: Session, *, clock: Clock, principal: Principal, org: Organisation,
                        relation_id: int, confirm: bool) -> PersonRelation:
    """The committee confirms (it knows the family) or declines; confirming a relation whose
    typed name is not the name on record is refused (decline it, or confirm in person)."""
    relation = relation_for_staff(session, clock=clock, org=org, relation_id=relation_id)
    if confirm and not name_matches(session, relation):
        raise ApiError("relation_identity_mismatch", errors={"name": ["申请人填写的姓名与登记信息不符，请现场核验。"]})
    return _decide(session, clock, relation, confirm=confirm, via="committee", principal=principal)


def confirm_in_person(session: Session, *, clock: Clock, principal: Principal, org: Organisation,
                      relation_id: int, name: str, id_number: str) -> PersonRelation:
    """Staff saw the ID card: the name and number on it must be the subject's."""
    relation = relation_for_staff(session, clock=clock, org=org, relation_id=relation_id)
    id_number = validate_id_number(id_number, clock=clock)
    name = validate_name(name)
    subject = session.get(Person, relation.to_person_id)
    if subject.id_number_hash != Person.id_number_lookup(id_number) or (subject.name not in (None, name)):
        raise ApiError("relation_identity_mismatch", errors={"id_number": ["证件信息与该关系的被代办人不符。"]})
    return _decide(session, clock, relation, confirm=True, via="in_person", principal=principal)


# ---------------------------------------------------------------- views


def describe(session: Session, relation: PersonRelation, me_id: int) -> dict[str, Any]:
    """The caller's view. Outgoing: the name and number the caller typed, masked (never who
    is on record, nor whether they have an account); incoming: the requester, masked."""
    outgoing = relation.from_person_id == me_id
    if outgoing:
        subject = session.get(Person, relation.to_person_id)
        person = {"name": pii.mask_name(relation.claimed_name or subject.name),
                  "id_number": pii.mask_id_number(subject.id_number)}
    else:
        requester = session.get(Person, relation.from_person_id)
        person = {"name": pii.mask_name(requester.name), "id_number": pii.mask_id_number(requester.id_number)}
    return {
        "id": relation.id,
        "direction": "outgoing" if outgoing else "incoming",
        "kind": relation.kind,
        "allows": list(relation.allows),
        "status": relation.status,
        "verified": relation.status == "confirmed",
        "created_at": relation.created_at,
        "decided_at": relation.decided_at,
        "person": person,
    }


def describe_for_staff(session: Session, relation: PersonRelation) -> dict[str, Any]:
    """Staff's view: both persons masked, the kind and scopes, whether the typed name matches."""
    requester = session.get(Person, relation.from_person_id)
    subject = session.get(Person, relation.to_person_id)
    return {
        "id": relation.id, "kind": relation.kind, "allows": list(relation.allows), "status": relation.status,
        "created_at": relation.created_at, "decided_at": relation.decided_at, "decided_via": relation.decided_via,
        "requester": {"name": pii.mask_name(requester.name), "phone": pii.mask_mobile(requester.phone)},
        "subject": {"name": pii.mask_name(subject.name), "id_number": pii.mask_id_number(subject.id_number),
                    "birth_date": subject.birth_date},
        "name_matches": name_matches(session, relation),
    }
