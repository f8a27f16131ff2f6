"""Relations between persons: a guardian, proxy or family member acting for someone.

A resident adds a relation with the other person's name and resident ID number. When a
person with that ID number exists, the name must match it (without saying more); otherwise
a person without an account is created (a child, a parent over 80 without a phone). A
relation ``allows`` a list of scopes; scenarios ask ``may_act_for``.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from auth import pii
from auth.accounts import person_of, validate_id_number, validate_name
from auth.models import RELATION_KINDS, Person, PersonRelation
from auth.principal import Principal

SCOPES: dict[str, str] = {
    "act_all": "代办全部事项",
    "book_medical": "预约挂号、就诊",
    "view_medical": "查看病历、出院小结",
    "pay": "代缴费用",
    "school": "入学报名、校园事务",
    "elderly_care": "紧急呼叫联系人、养老服务",
    "apply": "代为申请、报名",
}
MAX_RELATIONS = 20


def validate_allows(allows: list[str]) -> list[str]:
    unknown = sorted(set(allows) - set(SCOPES))
    if unknown or not allows:
        raise ApiError("validation_error", errors={"allows": [f"可选范围：{', '.join(SCOPES)}。"]})
    return sorted(set(allows))


def add(session: Session, *, clock: Clock, principal: Principal, name: str, id_number: str, kind: str,
        allows: list[str]) -> PersonRelation:
    me = person_of(session, principal)
    if me.real_name_level == "none":
        raise ApiError("real_name_required")
    id_number = validate_id_number(id_number, clock=clock)
    name = validate_name(name)
    if kind not in RELATION_KINDS:
        raise ApiError("validation_error", errors={"kind": [f"可选：{', '.join(RELATION_KINDS)}。"]})
    allows = validate_allows(allows)
    id_hash = Person.id_number_lookup(id_number)
    if me.id_number_hash == id_hash:
        raise ApiError("relation_to_self", errors={"id_number": ["不能添加与自己的关系。"]})
    other = session.scalar(sa.select(Person).where(Person.id_number_hash == id_hash))
    if other is None:
        other = Person(name=name, real_name_level="basic")
        other.set_id_number(id_number)
        session.add(other)
        session.flush()
    elif other.name is not None and other.name != name:
        raise ApiError("relation_identity_mismatch", errors={"name": ["姓名与身份证号不匹配。"]})
    if other.id == me.id:
        raise ApiError("relation_to_self")
    count = session.scalar(sa.select(sa.func.count()).select_from(PersonRelation)
                           .where(PersonRelation.from_person_id == me.id))
    if (count or 0) >= MAX_RELATIONS:
        raise ApiError("validation_error", errors={"_schema": [f"最多添加 {MAX_RELATIONS} 位关联人。"]})
    exists = session.scalar(sa.select(PersonRelation.id).where(
        PersonRelation.from_person_id == me.id, PersonRelation.to_person_id == other.id, PersonRelation.kind == kind))
    if exists is not None:
        raise ApiError("relation_exists")
    relation = PersonRelation(from_person_id=me.id, to_person_id=other.id, kind=kind, allows=allows,
                              verified=False, created_at=clock.now())
    session.add(relation)
    session.flush()
    return relation


def of_person(session: Session, person_id: int) -> list[PersonRelation]:
    return list(session.scalars(sa.select(PersonRelation).where(
        sa.or_(PersonRelation.from_person_id == person_id, PersonRelation.to_person_id == person_id))
        .order_by(PersonRelation.id)).all())


def remove(session: Session, *, principal: Principal, relation_id: int) -> None:
    """Either side may end a relation."""
    relation = session.get(PersonRelation, relation_id)
    if relation is None or principal.person_id not in (relation.from_person_id, relation.to_person_id):
        raise ApiError("not_found")
    session.delete(relation)
    session.flush()


def may_act_for(session: Session, actor_person_id: int, subject_person_id: int, scope: str, *,
                verified_only: bool = False) -> bool:
    """Whether ``actor`` may act for ``subject`` in ``scope`` (oneself always may)."""
    if actor_person_id == subject_person_id:
        return True
    stmt = sa.select(PersonRelation).where(PersonRelation.from_person_id == actor_person_id,
                                           PersonRelation.to_person_id == subject_person_id)
    if verified_only:
        stmt = stmt.where(PersonRelation.verified.is_(True))
    return any(scope in rel.allows or "act_all" in rel.allows for rel in session.scalars(stmt))


def describe(session: Session, relation: PersonRelation, me_id: int) -> dict[str, Any]:
    outgoing = relation.from_person_id == me_id
    other = session.get(Person, relation.to_person_id if outgoing else relation.from_person_id)
    return {
        "id": relation.id,
        "direction": "outgoing" if outgoing else "incoming",
        "kind": relation.kind,
        "allows": list(relation.allows),
        "verified": relation.verified,
        "created_at": relation.created_at,
        "person": {
            "person_id": other.id,
            "name": pii.mask_name(other.name),
            "id_number": pii.mask_id_number(other.id_number),
            "has_account": bool(other.accounts),
        },
    }
