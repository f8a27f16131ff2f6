"""Staff accounts: argon2 passwords, throttled sign-in, memberships.

Failed password checks earn growing waits by user name and by address, never a lock-out
(``auth.signin_throttle``); an address the account signed in from before is held back only by
its own failures (``auth.known_addresses``). Attempts during a wait are refused without
checking the password, so they cannot be used to guess. Every name, known, unknown or
malformed, costs one argon2 verification and gets the same answers and headers.

``PASSWORD_HASH_PROFILE=fast`` (tests) uses cheap argon2 parameters.
"""
from __future__ import annotations

import secrets
from datetime import datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from auth import known_addresses, signin_throttle
from auth.models import Account, Membership
from auth.organisations import Organisation
from auth.roles import is_valid_role, roles_for

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


def _login_name(username: str) -> str:
    """The name a sign-in is throttled and looked up under: normalised when it is a valid user
    name, else as typed (lower case, trimmed): a malformed name is throttled like any other."""
    try:
        return normalise_username(username)
    except ApiError:
        return username.strip().lower()[:64]


def _checked(session: Session, *, now: datetime, name: str, account: Account | None, password: str,
             address: str) -> None:
    """The throttled password check, the same work whether or not ``account`` exists.

    From an address the account has signed in from before, only that address's own failures
    count; from anywhere else, the name's and the address's (``auth.signin_throttle``). Raises
    ``login_locked`` while a wait runs; counts a failure, or forgets the name's failures."""
    known = known_addresses.is_known(session, account.id if account is not None else None, address, now=now)
    subjects = ([signin_throttle.known_address_subject(name, address)] if known
                else [signin_throttle.name_subject(name), signin_throttle.address_subject(address)])
    signin_throttle.admit(subjects)
    usable = account is not None and account.status != "deleted"
    if not _verify(account.password_hash if usable else None, password) or not usable:
        raise ApiError("invalid_credentials", headers=signin_throttle.failed(subjects))
    signin_throttle.succeeded(subjects[:1])


def login(session: Session, *, clock: Clock, username: str, password: str, address: str,
          org_code: str | None = None) -> tuple[Account, Organisation]:
    """Check the password (throttled, see ``_checked``) and choose the acting organisation."""
    name = _login_name(username)
    account = session.scalar(sa.select(Account).where(Account.username == name, Account.kind == "staff"))
    now = clock.now()
    _checked(session, now=now, name=name, account=account, password=password, address=address)
    assert account is not None  # _checked refuses a missing account
    if account.status != "active":
        raise ApiError("account_disabled")
    if hasher().check_needs_rehash(account.password_hash or ""):
        account.password_hash = hash_password(password)
    known_addresses.remember(session, account.id, address, now=now)
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


def change_password(session: Session, *, clock: Clock, account_id: int, current: str, new: str,
                    address: str) -> None:
    """Change one's password; the current one is checked with sign-in's throttling."""
    account = session.get(Account, account_id)
    name = account.username if account is not None and account.username else ""
    try:
        _checked(session, now=clock.now(), name=name, account=account, password=current, address=address)
    except ApiError as exc:
        if exc.code != "invalid_credentials":
            raise
        raise ApiError("invalid_credentials", errors={"current_password": ["当前密码不正确。"]},
                       headers=exc.headers) from None
    check_password_strength(new, username=account.username)
    account.password_hash = hash_password(new)
    session.flush()
