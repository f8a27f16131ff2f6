"""Helpers every scenario's demo data uses (``flask seed demo``), idempotent by natural keys.

Demo staff share one published password (``DEMO_PASSWORD``), which is why demo data is
refused in production; demo residents are ``dev`` accounts (``demo-resident-<n>``) that log
in with ``POST /api/v1/auth/dev/login`` and hold no personal data.

Demo staff have contact points so notices reach somebody in a demo: a WeCom id
``demo.<username>`` and a verified work mobile in the fictitious range 138 0000 xxxx (numbers
made up for the demo, derived from the user name), and a name residents see (张师傅 for a
technician). None of it is anybody's real contact.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.db import utcnow
from auth.contacts import StaffContact
from auth.models import Account, Membership, Person
from auth.organisations import Organisation
from auth.principal import Principal
from auth.staff import add_membership, hash_password

DEMO_PASSWORD = "jinshan-demo-2026"  # noqa: S105 (demo accounts of a development database)


@lru_cache(maxsize=1)
def _password_hash() -> str:
    return hash_password(DEMO_PASSWORD)  # once: the hash is slow on purpose


def staff_account(session: Session, username: str, org: Organisation, role: str) -> Account:
    """The demo staff account ``username`` with ``role`` in ``org`` (created when missing)."""
    account = session.scalar(sa.select(Account).where(Account.username == username))
    if account is None:
        account = Account(kind="staff", username=username, password_hash=_password_hash(), status="active")
        session.add(account)
        session.flush()
    member = session.scalar(sa.select(Membership).where(Membership.account_id == account.id,
                                                         Membership.organisation_id == org.id))
    if member is None:
        add_membership(session, account=account, org=org, role=role)
    _demo_contact(session, account, role)
    return account


_SURNAMES = "张王李赵刘陈杨黄周吴"
_TITLES = {"technician": "师傅", "driver": "师傅", "doctor": "医生", "road_chief": "路长"}


def _demo_contact(session: Session, account: Account, role: str) -> None:
    """Fictitious contact points (see the module docstring), once."""
    if session.scalar(sa.select(StaffContact.id).where(StaffContact.account_id == account.id)) is not None:
        return
    n = int(hashlib.sha256((account.username or "").encode()).hexdigest(), 16)
    contact = StaffContact(account_id=account.id, wecom_userid=f"demo.{account.username}"[:64],
                           display_name=_SURNAMES[n % len(_SURNAMES)] + _TITLES.get(role, "老师"),
                           updated_at=utcnow())
    contact.set_mobile(f"1380000{n % 10_000:04d}")  # fictitious: the demo's own range
    contact.mobile_verified_at = utcnow()
    session.add(contact)
    session.flush()


def dev_resident(session: Session, n: int) -> Account:
    """``demo-resident-<n>``: a dev-login account of a person with no personal data."""
    openid = f"demo-resident-{n}"
    account = session.scalar(sa.select(Account).where(Account.kind == "dev", Account.openid == openid))
    if account is None:
        person = Person(real_name_level="none")
        session.add(person)
        session.flush()
        account = Account(kind="dev", openid=openid, person_id=person.id, status="active")
        session.add(account)
        session.flush()
    return account


def as_resident(account: Account) -> Principal:
    return Principal("resident", account_id=account.id, person_id=account.person_id)


def as_staff(account: Account, org: Organisation, role: str) -> Principal:
    return Principal("staff", account_id=account.id, org_id=org.id, org_code=org.code, org_type=org.type, role=role)
