"""Who is calling: the ``Principal`` on ``flask.g.principal`` and the guards on views.

A before-request hook reads ``Authorization``: ``Bearer <access JWT>`` (residents and
staff) or ``Basic base64(device_id:secret)`` (devices). A missing header makes the caller
anonymous. A bad credential also leaves the caller anonymous, with the error remembered:
the guards (``require_resident``, ``require_staff``, ``require_device``, ``require_auth``)
raise it, so a stale token never breaks a public endpoint such as a login.

The account, the refresh family, the staff membership and the device come from the process's
cache (``auth.cache``), which the database tells of every change as it commits, else from
one query; a disabled account, an ended membership, a logout or a disabled device take effect
at once (the token's lifetime is not a grace period). The staff role comes from the
membership, not from the token.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Iterable
from copy import deepcopy
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, wraps
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, g, request
from flask_smorest.utils import deepupdate
from sqlalchemy.exc import OperationalError

from app.db import get_session
from app.errors import ApiError
from auth.cache import MISS, AccountFacts, AuthCache, DeviceFacts, MembershipFacts
from auth.models import RESIDENT_ACCOUNT_KINDS, Account, Device, Membership
from auth.organisations import Organisation

LAST_SEEN_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class Principal:
    kind: str  # resident | staff | device | anonymous
    account_id: int | None = None
    person_id: int | None = None
    org_id: int | None = None
    org_code: str | None = None
    org_type: str | None = None
    role: str | None = None
    device_id: int | None = None
    device_uid: str | None = None
    device_kind: str | None = None
    session_id: str | None = None
    remote_addr: str | None = None

    @property
    def scope_key(self) -> str:
        """A stable identity for idempotency scopes and rate-limit buckets."""
        if self.kind == "resident":
            return f"r:{self.account_id}"
        if self.kind == "staff":
            return f"s:{self.account_id}@{self.org_id}"
        if self.kind == "device":
            return f"d:{self.device_id}"
        return f"ip:{self.remote_addr or '-'}"

    @property
    def is_resident(self) -> bool:
        return self.kind == "resident"

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"

    @property
    def is_device(self) -> bool:
        return self.kind == "device"

    @property
    def is_anonymous(self) -> bool:
        return self.kind == "anonymous"

    @property
    def is_district_admin(self) -> bool:
        return self.kind == "staff" and self.org_type == "district" and self.role == "admin"


def current_principal() -> Principal:
    principal = g.get("principal")
    if principal is None:
        principal = Principal("anonymous", remote_addr=request.remote_addr)
    return principal


# ---------------------------------------------------------------- authentication


@cache
def _account_query() -> sa.Select:
    """The account's facts and whether the token's session (refresh family) was revoked: one
    round trip when the process's cache does not have them."""
    from auth.models import RefreshToken

    revoked = sa.select(sa.literal(1)).where(
        RefreshToken.family_id == sa.bindparam("sid"), RefreshToken.revoked_at.is_not(None)).exists()
    return sa.select(Account.id, Account.kind, Account.status, Account.person_id,
                     revoked.label("family_revoked")).where(Account.id == sa.bindparam("id"))


@cache
def _membership_query() -> sa.Select:
    return (sa.select(Organisation.id, Organisation.code, Organisation.type, Membership.role)
            .join(Membership, Membership.organisation_id == Organisation.id)
            .where(Organisation.code == sa.bindparam("org"), Membership.account_id == sa.bindparam("account_id"),
                   Membership.status == "active", Organisation.active.is_(True)))


def _auth_cache() -> AuthCache | None:
    process = current_app.extensions.get("auth_cache")
    return process.current() if process is not None else None


def _account(facts: AuthCache | None, account_id: int, sid: str) -> tuple[AccountFacts | None, bool]:
    """(the account's facts or None, whether the refresh family is revoked): from the cache,
    else one query (whose answer the cache keeps)."""
    if facts is not None:
        account, revoked = facts.lookup(facts.accounts, account_id), facts.lookup(facts.families, sid)
        if account is not MISS and revoked is not MISS:
            return account, revoked
        generation = facts.generation
    row = get_session().connection().execute(_account_query(), {"id": account_id, "sid": sid}).first()
    account = AccountFacts(row.id, row.kind, row.status, row.person_id) if row is not None else None
    revoked = bool(row.family_revoked) if row is not None else False
    if facts is not None and account is not None:
        facts.store(facts.accounts, account_id, account, generation)
        facts.store(facts.families, sid, revoked, generation)
    return account, revoked


def _membership(facts: AuthCache | None, account_id: int, org_code: str) -> MembershipFacts | None:
    key = (account_id, org_code)
    if facts is not None:
        found = facts.lookup(facts.memberships, key)
        if found is not MISS:
            return found
        generation = facts.generation
    row = get_session().connection().execute(_membership_query(), {"org": org_code, "account_id": account_id}).first()
    member = MembershipFacts(row.id, row.code, row.type, row.role) if row is not None else None
    if facts is not None:
        facts.store(facts.memberships, key, member, generation)
    return member


def _from_bearer(token: str) -> Principal:
    from auth.tokens import decode_access

    clock = current_app.extensions["clock"]
    claims = decode_access(token, clock=clock)
    facts = _auth_cache()
    account, revoked = _account(facts, int(claims["sub"]), claims["sid"])
    if account is None or account.status != "active" or revoked:
        raise ApiError("token_revoked")
    if claims["knd"] == "resident":
        if account.kind not in RESIDENT_ACCOUNT_KINDS or account.person_id is None:
            raise ApiError("token_invalid")
        return Principal("resident", account_id=account.id, person_id=account.person_id,
                         session_id=claims["sid"], remote_addr=request.remote_addr)
    if account.kind != "staff" or not isinstance(claims.get("org"), str):
        raise ApiError("token_invalid")
    return _staff(facts, account, claims["org"], claims["sid"])


def _staff(facts: AuthCache | None, account: AccountFacts, org_code: str, sid: str) -> Principal:
    member = _membership(facts, account.id, org_code)
    if member is None:
        raise ApiError("not_a_member")
    return Principal("staff", account_id=account.id, person_id=account.person_id, org_id=member.org_id,
                     org_code=member.org_code, org_type=member.org_type, role=member.role, session_id=sid,
                     remote_addr=request.remote_addr)


def staff_from_session(account_id: int, org_code: str, sid: str) -> Principal:
    """The staff principal of a console session (``app.console``): the same checks as a bearer
    token's, from the same cache: the account active, its sign-in session (refresh family) not
    ended, the membership in the acting organisation active. ``token_revoked`` or
    ``not_a_member`` otherwise, so a logout or a disabled member is out at the next request."""
    facts = _auth_cache()
    account, revoked = _account(facts, account_id, sid)
    if account is None or account.status != "active" or revoked or account.kind != "staff":
        raise ApiError("token_revoked")
    return _staff(facts, account, org_code, sid)


def device_secret_hash(secret: str) -> str:
    """Device secrets are random, so one SHA-256 suffices (a slow hash would cap scans)."""
    return hashlib.sha256(secret.encode()).hexdigest()


_DEVICE = (
    sa.select(Device.id, Device.uid, Device.kind, Device.status, Device.secret_hash,
              Organisation.id.label("org_id"), Organisation.code.label("org_code"),
              Organisation.type.label("org_type"), Organisation.active.label("org_active"))
    .join(Organisation, Organisation.id == Device.organisation_id)
    .where(Device.uid == sa.bindparam("uid"))
)


def _device(facts: AuthCache | None, uid: str) -> DeviceFacts | None:
    """The device's facts: from the cache (known devices only: unknown ids are not kept),
    else one query in the request's session (Core: no ORM overhead)."""
    if facts is not None:
        found = facts.lookup(facts.devices, uid)
        if found is not MISS:
            return found
        generation = facts.generation
    row = get_session().connection().execute(_DEVICE, {"uid": uid}).first()
    device = DeviceFacts(*row) if row is not None else None
    if facts is not None and device is not None:
        facts.store(facts.devices, uid, device, generation)
    return device


def _from_basic(credentials: str) -> Principal:
    """A device: its facts from the process's cache (dropped the moment the device changes),
    else one query; the secret is checked on every request."""
    try:
        decoded = base64.b64decode(credentials, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ApiError("device_credentials_invalid") from exc
    uid, sep, secret = decoded.partition(":")
    if not sep or not uid or not secret or len(uid) > 40 or len(secret) > 200:
        raise ApiError("device_credentials_invalid")
    facts = _auth_cache()
    device = _device(facts, uid)
    expected = device.secret_hash if device else device_secret_hash("-")
    if not hmac.compare_digest(expected, device_secret_hash(secret)) or device is None:
        raise ApiError("device_credentials_invalid")
    if device.status != "active" or not device.org_active:
        raise ApiError("device_disabled")
    _touch_device(device.id)
    return Principal("device", org_id=device.org_id, org_code=device.org_code, org_type=device.org_type,
                     device_id=device.id, device_uid=device.uid, device_kind=device.kind,
                     remote_addr=request.remote_addr)


def _touch_device(device_id: int) -> None:
    """Record ``last_seen_at`` at most once a minute per process (``LAST_SEEN_EVERY``). It is
    committed at once, in the request's session, before the view runs (a separate transaction
    would wait for the request's own write lock on SQLite). Best effort: if SQLite is busy, a
    later request records it."""
    touched: dict[int, datetime] = current_app.extensions.setdefault("devices_touched", {})
    now = current_app.extensions["clock"].now()
    last = touched.get(device_id)
    if last is not None and timedelta(0) <= now - last < LAST_SEEN_EVERY:
        return
    session = get_session()
    try:
        session.execute(sa.update(Device).where(
            Device.id == device_id,
            sa.or_(Device.last_seen_at.is_(None), Device.last_seen_at < now - LAST_SEEN_EVERY))
            .values(last_seen_at=now), execution_options={"synchronize_session": False})
        session.commit()
    except OperationalError:
        session.rollback()
        return
    if len(touched) > 100_000:
        touched.clear()
    touched[device_id] = now


def authenticate_request() -> None:
    """The before-request hook: sets ``g.principal`` and maybe ``g.auth_error``."""
    g.principal = Principal("anonymous", remote_addr=request.remote_addr)
    g.auth_error = None
    header = request.headers.get("Authorization")
    if not header:
        return
    scheme, _, credentials = header.strip().partition(" ")
    credentials = credentials.strip()
    try:
        if scheme.lower() == "bearer" and credentials:
            g.principal = _from_bearer(credentials)
        elif scheme.lower() == "basic" and credentials:
            g.principal = _from_basic(credentials)
        else:
            raise ApiError("token_invalid")
    except ApiError as err:
        g.auth_error = err


def install(app: Flask) -> None:
    from auth import cache as auth_cache

    settings = app.extensions["settings"]
    app.extensions["auth_cache"] = (auth_cache.ProcessCache(app.extensions["db"], auth_cache.size_from(settings))
                                    if auth_cache.enabled(settings) else None)
    app.before_request(authenticate_request)


# ---------------------------------------------------------------- guards

_AUTH_RESPONSES = {401: "Not authenticated (unauthenticated, token_invalid, token_expired, token_revoked)",
                   403: "Not allowed (forbidden, not_a_member, device_disabled)"}


def _document(wrapper: Callable, scheme: str) -> None:
    from app.api import ErrorSchema

    doc = deepcopy(getattr(wrapper, "_apidoc", {}))
    doc = deepupdate(doc, {"manual_doc": {"security": [{scheme: []}]}})
    responses = doc.setdefault("response", {}).setdefault("responses", {})
    for status, description in _AUTH_RESPONSES.items():
        if status not in responses:  # flask-smorest wants a list of response docs per status
            responses[status] = [{"description": description, "schema": ErrorSchema, "content_type": None}]
    wrapper._apidoc = doc  # type: ignore[attr-defined]


def _guard(kinds: Iterable[str], roles: Iterable[str] | None = None) -> Principal:
    kinds = tuple(kinds)
    principal = current_principal()
    if principal.kind in kinds:
        if roles is not None and principal.kind == "staff" and principal.role not in set(roles):
            raise ApiError("forbidden")
        return principal
    err = g.get("auth_error")
    if err is not None:
        raise err
    if principal.is_anonymous:
        raise ApiError("unauthenticated", headers={"WWW-Authenticate": 'Bearer realm="jinshan"'})
    raise ApiError("forbidden")


def _guard_decorator(kinds: tuple[str, ...], scheme: str, roles: Iterable[str] | None = None) -> Callable:
    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            _guard(kinds, roles)
            return view(*args, **kwargs)

        _document(wrapper, scheme)
        return wrapper

    return decorator


def require_resident(view: Callable) -> Callable:
    """The caller is a resident (WeChat, 随申办 or dev account)."""
    return _guard_decorator(("resident",), "bearerAuth")(view)


def require_staff(view: Callable | None = None, *, roles: Iterable[str] | None = None) -> Callable:
    """The caller is staff (optionally with one of ``roles`` in their acting organisation).

    Use ``auth.permissions.require_role_in`` for objects owned by an organisation.
    """
    decorator = _guard_decorator(("staff",), "bearerAuth", roles)
    return decorator(view) if view is not None else decorator


def require_device(view: Callable) -> Callable:
    """The caller is a device authenticated with HTTP Basic."""
    return _guard_decorator(("device",), "deviceBasic")(view)


def require_auth(view: Callable | None = None, *, kinds: tuple[str, ...] = ("resident", "staff")) -> Callable:
    """Any authenticated caller of the given kinds."""
    decorator = _guard_decorator(kinds, "bearerAuth")
    return decorator(view) if view is not None else decorator


def check(kinds: Iterable[str] = ("resident",), roles: Iterable[str] | None = None) -> Principal:
    """The same checks as the decorators, inside a view."""
    return _guard(kinds, roles)


SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                   "description": "Access token from a login or /api/v1/auth/refresh."},
    "deviceBasic": {"type": "http", "scheme": "basic",
                    "description": "Devices: device_id as the user name and its secret as the password."},
}
