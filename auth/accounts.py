"""Resident accounts and persons: find-or-create at login, 随申办 verification and merging,
and the resident's own profile (``/me``)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from auth import pii
from auth.models import Account, Person, PersonRelation, Residence
from auth.principal import Principal
from auth.providers.suishenban import SuishenbanIdentity
from auth.providers.wechat import WechatSession
from auth.signals import person_merged

NAME_MAX = 50


def _find_or_create(session: Session, lookup: sa.Select, make: Callable[[], Account]) -> Account:
    """Find the account, or create it; a concurrent creator's row wins the unique key."""
    account = session.scalar(lookup)
    if account is not None:
        return account
    try:
        with session.begin_nested():
            account = make()
            session.add(account)
            session.flush()
        return account
    except IntegrityError:
        account = session.scalar(lookup)
        if account is None:
            raise
        return account


def _check_active(account: Account) -> None:
    if account.status != "active":
        raise ApiError("account_disabled")


def login_wechat(session: Session, *, clock: Clock, wx: WechatSession) -> Account:
    """The account of this openid, created with a new person on first login.

    With a ``unionid`` already known from another account (same WeChat user, another app of
    the same open-platform), the new account joins that account's person.
    """
    def make() -> Account:
        person = None
        if wx.unionid:
            person = session.scalar(
                sa.select(Person).join(Account, Account.person_id == Person.id)
                .where(Account.unionid == wx.unionid, Account.status == "active",
                       Person.anonymised_at.is_(None)).limit(1))
        return Account(kind="wechat", openid=wx.openid, unionid=wx.unionid, person=person or Person())

    account = _find_or_create(
        session, sa.select(Account).where(Account.kind == "wechat", Account.openid == wx.openid), make)
    _check_active(account)
    if wx.unionid and account.unionid != wx.unionid:
        account.unionid = wx.unionid
    account.wechat_session_key = wx.session_key
    account.last_login_at = clock.now()
    return account


def login_dev(session: Session, *, clock: Clock, openid: str) -> Account:
    """Development only: a demo resident for any openid."""
    account = _find_or_create(
        session, sa.select(Account).where(Account.kind == "dev", Account.openid == openid),
        lambda: Account(kind="dev", openid=openid, person=Person()))
    _check_active(account)
    account.last_login_at = clock.now()
    return account


def anonymise_person(person: Person, *, now: datetime) -> None:
    person.name = None
    person.set_id_number(None)
    person.claimed_id_number = None
    person.set_phone(None)
    person.birth_date = None
    person.real_name_level = "none"
    person.verified_at = None
    person.anonymised_at = now


def merge_persons(session: Session, *, clock: Clock, keep: Person, drop: Person) -> None:
    """``drop`` is the same human as ``keep``: move its accounts, residences and relations."""
    if keep.id == drop.id:
        return
    session.execute(sa.update(Account).where(Account.person_id == drop.id).values(person_id=keep.id),
                    execution_options={"synchronize_session": "fetch"})
    session.execute(sa.update(Residence).where(Residence.person_id == drop.id).values(person_id=keep.id),
                    execution_options={"synchronize_session": "fetch"})
    for rel in session.scalars(sa.select(PersonRelation).where(
            sa.or_(PersonRelation.from_person_id == drop.id, PersonRelation.to_person_id == drop.id))).all():
        new_from = keep.id if rel.from_person_id == drop.id else rel.from_person_id
        new_to = keep.id if rel.to_person_id == drop.id else rel.to_person_id
        duplicate = session.scalar(sa.select(PersonRelation.id).where(
            PersonRelation.from_person_id == new_from, PersonRelation.to_person_id == new_to,
            PersonRelation.kind == rel.kind, PersonRelation.id != rel.id))
        if new_from == new_to or duplicate is not None:
            session.delete(rel)
        else:
            rel.from_person_id, rel.to_person_id = new_from, new_to
    if keep.phone is None and drop.phone is not None:
        phone = drop.phone
        drop.set_phone(None)
        session.flush()
        keep.set_phone(phone)
    drop.merged_into_id = keep.id
    anonymise_person(drop, now=clock.now())
    session.flush()
    person_merged.send(None, session=session, keep_id=keep.id, drop_id=drop.id)


def login_suishenban(session: Session, *, clock: Clock, identity: SuishenbanIdentity,
                     caller: Principal) -> Account:
    """Log in with 随申办 and make the person real-name verified.

    The person kept is, in order: the person of the resident calling (a WeChat login being
    upgraded), the person this 随申办 identity already had, the person already holding the
    ID number, or a new one; the others are merged into it.
    """
    id_hash = Person.id_number_lookup(identity.id_number)
    account = session.scalar(sa.select(Account).where(Account.kind == "suishenban",
                                                      Account.subject == identity.subject))
    if account is not None:
        _check_active(account)
    caller_person = session.get(Person, caller.person_id) if caller.is_resident and caller.person_id else None
    holder = session.scalar(sa.select(Person).where(Person.id_number_hash == id_hash))
    if caller_person is not None and caller_person.real_name_level == "verified" \
            and caller_person.id_number_hash != id_hash:
        raise ApiError("identity_conflict")
    keep = caller_person or (account.person if account else None) or holder
    if keep is None:
        keep = Person()
        session.add(keep)
        session.flush()
    for other in (account.person if account else None, holder):
        if other is not None and other.id != keep.id:
            merge_persons(session, clock=clock, keep=keep, drop=other)
    if account is None:
        account = Account(kind="suishenban", subject=identity.subject, person_id=keep.id)
        session.add(account)
    else:
        account.person_id = keep.id
    keep.name = identity.name
    keep.set_id_number(identity.id_number)
    keep.claimed_id_number = None
    if identity.mobile:
        keep.set_phone(identity.mobile)
    keep.real_name_level = "verified"
    keep.verified_at = clock.now()
    account.last_login_at = clock.now()
    session.flush()
    return account


# ---------------------------------------------------------------- the resident's profile


def person_of(session: Session, principal: Principal) -> Person:
    person = session.get(Person, principal.person_id) if principal.person_id else None
    if person is None or person.is_anonymised:
        raise ApiError("token_revoked")
    return person


def masked_person(person: Person) -> dict[str, Any]:
    return {
        "id": person.id,
        "name": pii.mask_name(person.name),
        "phone": pii.mask_mobile(person.phone),
        "id_number": pii.mask_id_number(person.id_number or person.claimed_id_number),
        "birth_date": person.birth_date,
        "real_name_level": person.real_name_level,
    }


def profile(session: Session, principal: Principal) -> dict[str, Any]:
    person = person_of(session, principal)
    accounts = session.scalars(sa.select(Account).where(
        Account.person_id == person.id, Account.status == "active").order_by(Account.id)).all()
    return {
        **masked_person(person),
        "account_id": principal.account_id,
        "login_methods": sorted({a.kind for a in accounts}),
    }


def validate_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= NAME_MAX or any(c.isdigit() or not c.isprintable() for c in name):
        raise ApiError("validation_error", errors={"name": [f"姓名须为 1–{NAME_MAX} 个字符，不含数字。"]})
    return name


def validate_id_number(value: str, *, clock: Clock, field: str = "id_number") -> str:
    from app.fields import CST

    problem = pii.id_number_problem(value, today=clock.now().astimezone(CST).date())
    if problem:
        raise ApiError("id_number_invalid", errors={field: [problem]})
    return pii.normalise_id_number(value)


def validate_mobile(value: str, *, field: str = "phone") -> str:
    problem = pii.mobile_problem(value)
    if problem:
        raise ApiError("mobile_invalid", errors={field: [problem]})
    return pii.normalise_mobile(value)


def claim_id_number(session: Session, person: Person, id_number: str) -> None:
    """Give ``person`` this (valid, normalised) ID number. One held by another person is kept
    as ``claimed_id_number`` instead, and the answer is the same (issue 13: ``PATCH /me`` must
    not tell whether a number is on record): the masked number, the birth date and the level
    read alike. A 随申办 verification later sets the real one."""
    holder = session.scalar(sa.select(Person.id).where(
        Person.id_number_hash == Person.id_number_lookup(id_number), Person.id != person.id))
    if holder is None:
        person.set_id_number(id_number)
        person.claimed_id_number = None
    else:
        person.set_id_number(None)
        person.claimed_id_number = id_number
        person.birth_date = pii.id_number_birth_date(id_number)


def update_profile(session: Session, *, clock: Clock, principal: Principal, changes: dict[str, Any]) -> Person:
    """``PATCH /me``: phone always; name and ID number until the person is verified."""
    person = person_of(session, principal)
    if "phone" in changes:
        person.set_phone(validate_mobile(changes["phone"]) if changes["phone"] else None)
    identity_fields = {k for k in ("name", "id_number") if k in changes}
    if identity_fields and person.real_name_level == "verified":
        raise ApiError("identity_locked", errors={k: ["已实名认证，不可修改。"] for k in sorted(identity_fields)})
    if "name" in changes:
        person.name = validate_name(changes["name"])
    if "id_number" in changes:
        claim_id_number(session, person, validate_id_number(changes["id_number"], clock=clock))
    if person.real_name_level == "none" and person.name and (person.id_number or person.claimed_id_number):
        person.real_name_level = "basic"
    session.flush()
    return person
