"""Staff accounts: argon2 passwords, login with throttling and lock-out, memberships.

Failed logins: after ``SLOW_AFTER`` consecutive failures each further attempt must wait
(1 s, 2 s, 4 s … up to a minute: ``login_locked`` with ``Retry-After``); after
``LOCK_AFTER`` failures the account is locked for ``LOCK_MINUTES``, and every further
failure locks it again. A success resets the count. Attempts during a wait are refused
without checking the password, so they cannot be used to guess. Unknown user names cost the
same hash as known ones. (The per-address rate limit on the route stops spraying.)

``PASSWORD_HASH_PROFILE=fast`` (tests) uses cheap argon2 parameters.
"""
from __future__ import annotations

import math
import secrets
from datetime import timedelta
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from auth.models import Account, Membership
from auth.organisations import Organisation
from auth.roles import is_valid_role, roles_for

SLOW_AFTER = 3
LOCK_AFTER = 10
LOCK_MINUTES = 15
MAX_DELAY_SECONDS = 60
PASSWORD_MIN = 10
PASSWORD_MAX = 128
USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-@")


@lru_cache(maxsize=4)
def _hasher(profile: str) -> PasswordHasher:
    if profile == "fast":
        return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return PasswordHasher()  # RFC 9106 low-memory profile: t=3, m=64 MiB, p=4


def hasher() -> PasswordHasher:
    from flask import current_app, has_app_context

    profile = "default"
    if has_app_context():
        profile = current_app.extensions["settings"].get("PASSWORD_HASH_PROFILE", "default") or "default"
    return _hasher(profile)


def hash_password(password: str) -> str:
    return hasher().hash(password)


def check_password_strength(password: str, *, username: str | None = None) -> None:
    problems = []
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        problems.append(f"密码长度须为 {PASSWORD_MIN}–{PASSWORD_MAX} 个字符。")
    if len(set(password)) < 4:
        problems.append("密码过于简单。")
    if username and username.lower() in password.lower():
        problems.append("密码不能包含用户名。")
    if problems:
        raise ApiError("password_too_weak", errors={"password": problems})


def normalise_username(username: str) -> str:
    username = username.strip().lower()
    if not 3 <= len(username) <= 64 or not set(username) <= USERNAME_CHARS:
        raise ApiError("validation_error", errors={"username": ["用户名须为 3–64 个小写字母、数字或 . _ - @。"]})
    return username


def generate_password() -> str:
    return secrets.token_urlsafe(12)


# ---------------------------------------------------------------- memberships


def active_membership(session: Session, account_id: int, org_id: int) -> Membership | None:
    return session.scalar(sa.select(Membership).join(Organisation).where(
        Membership.account_id == account_id, Membership.organisation_id == org_id,
        Membership.status == "active", Organisation.active.is_(True)))


def active_memberships(session: Session, account_id: int) -> list[Membership]:
    return list(session.scalars(sa.select(Membership).join(Organisation).where(
        Membership.account_id == account_id, Membership.status == "active",
        Organisation.active.is_(True)).order_by(Organisation.code)).all())


def validate_role(org: Organisation, role: str) -> None:
    if not is_valid_role(org.type, role):
        raise ApiError("role_unknown", errors={"role": [f"可选角色：{', '.join(roles_for(org.type))}。"]})


def add_membership(session: Session, *, account: Account, org: Organisation, role: str) -> Membership:
    validate_role(org, role)
    existing = session.scalar(sa.select(Membership).where(
        Membership.account_id == account.id, Membership.organisation_id == org.id))
    if existing is not None:
        raise ApiError("membership_exists")
    membership = Membership(account_id=account.id, organisation_id=org.id, role=role, status="active")
    session.add(membership)
    session.flush()
    return membership


def create_staff(session: Session, *, username: str, password: str | None, org: Organisation,
                 role: str) -> tuple[Account, Membership, str | None]:
    """Create a staff account (or reuse one by user name) with a membership.

    Returns the account, the membership, and the generated initial password when the
    account is new and none was given (shown once).
    """
    username = normalise_username(username)
    validate_role(org, role)
    account = session.scalar(sa.select(Account).where(Account.username == username))
    generated = None
    if account is None:
        if password is None:
            password = generated = generate_password()
        check_password_strength(password, username=username)
        account = Account(kind="staff", username=username, password_hash=hash_password(password), status="active")
        session.add(account)
        session.flush()
    elif account.kind != "staff" or account.status == "deleted":
        raise ApiError("username_taken")
    membership = add_membership(session, account=account, org=org, role=role)
    return account, membership, generated


# ---------------------------------------------------------------- login

_DUMMY_HASHES: dict[int, str] = {}


def _dummy_hash() -> str:
    h = hasher()
    key = id(h)
    if key not in _DUMMY_HASHES:
        _DUMMY_HASHES[key] = h.hash(secrets.token_urlsafe(16))
    return _DUMMY_HASHES[key]


def _verify(stored: str | None, password: str) -> bool:
    try:
        return hasher().verify(stored or _dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


def _record_failure(session: Session, account: Account, *, clock: Clock) -> dict[str, str]:
    now = clock.now()
    account.failed_logins = (account.failed_logins or 0) + 1
    n = account.failed_logins
    wait: timedelta | None = None
    if n >= LOCK_AFTER:
        wait = timedelta(minutes=LOCK_MINUTES)
    elif n >= SLOW_AFTER:
        wait = timedelta(seconds=min(2 ** (n - SLOW_AFTER), MAX_DELAY_SECONDS))
    account.locked_until = now + wait if wait else None
    session.commit()  # the failure counts even though the request fails
    return _retry_after(wait.total_seconds()) if wait else {}


def login(session: Session, *, clock: Clock, username: str, password: str,
          org_code: str | None = None) -> tuple[Account, Organisation]:
    """Check the password and choose the acting organisation."""
    try:
        username = normalise_username(username)
    except ApiError:
        _verify(None, password)
        raise ApiError("invalid_credentials") from None
    account = session.scalar(sa.select(Account).where(Account.username == username, Account.kind == "staff"))
    now = clock.now()
    if account is not None and account.locked_until is not None and account.locked_until > now:
        raise ApiError("login_locked", headers=_retry_after((account.locked_until - now).total_seconds()))
    if account is None or account.status == "deleted" or not _verify(account.password_hash, password):
        headers = _record_failure(session, account, clock=clock) if account is not None else {}
        raise ApiError("invalid_credentials", headers=headers)
    if account.status != "active":
        raise ApiError("account_disabled")
    if hasher().check_needs_rehash(account.password_hash or ""):
        account.password_hash = hash_password(password)
    account.failed_logins = 0
    account.locked_until = None
    memberships = active_memberships(session, account.id)
    if org_code is not None:
        chosen = [m for m in memberships if m.organisation.code == org_code]
        if not chosen:
            session.commit()
            raise ApiError("not_a_member", errors={"org": ["您不属于该机构。"]})
    elif len(memberships) == 1:
        chosen = memberships
    else:
        session.commit()
        if not memberships:
            raise ApiError("not_a_member")
        raise ApiError("org_required", detail={"organisations": [membership_choice(m) for m in memberships]})
    account.last_login_at = now
    return account, chosen[0].organisation


def membership_choice(m: Membership) -> dict[str, Any]:
    return {"code": m.organisation.code, "name": m.organisation.name, "type": m.organisation.type, "role": m.role}


def switch_org(session: Session, *, account_id: int, org_code: str) -> Organisation:
    for m in active_memberships(session, account_id):
        if m.organisation.code == org_code:
            return m.organisation
    raise ApiError("not_a_member", errors={"org": ["您不属于该机构。"]})


def change_password(session: Session, *, account_id: int, current: str, new: str) -> None:
    account = session.get(Account, account_id)
    if account is None or not _verify(account.password_hash, current):
        raise ApiError("invalid_credentials", errors={"current_password": ["当前密码不正确。"]})
    check_password_strength(new, username=account.username)
    account.password_hash = hash_password(new)
    session.flush()
