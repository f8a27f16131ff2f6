"""Who is calling: the ``Principal`` on ``flask.g.principal`` and the guards on views.

A before-request hook reads ``Authorization``: ``Bearer <access JWT>`` (residents and
staff) or ``Basic base64(device_id:secret)`` (devices). A missing header makes the caller
anonymous. A bad credential also leaves the caller anonymous, with the error remembered:
the guards (``require_resident``, ``require_staff``, ``require_device``, ``require_auth``)
raise it, so a stale token never breaks a public endpoint such as a login.

The account, staff membership and device are re-read on every authenticated request, so a
disabled account, an ended membership, a logout or a disabled device take effect at once
(the token's lifetime is not a grace period). The staff role comes from the membership, not
from the token.
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
from functools import wraps
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, g, request
from flask_smorest.utils import deepupdate
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.db import get_session
from app.errors import ApiError
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


def _account_query() -> sa.Select:
    """The account's facts and whether the token's session (refresh family) was revoked: one
    round trip per request (this runs on every authenticated request)."""
    from auth.models import RefreshToken

    revoked = sa.select(sa.literal(1)).where(
        RefreshToken.family_id == sa.bindparam("sid"), RefreshToken.revoked_at.is_not(None)).exists()
    return sa.select(Account.id, Account.kind, Account.status, Account.person_id,
                     revoked.label("family_revoked")).where(Account.id == sa.bindparam("id"))


_ACCOUNT: sa.Select | None = None


def _from_bearer(token: str) -> Principal:
    from auth.tokens import decode_access

    global _ACCOUNT
    if _ACCOUNT is None:
        _ACCOUNT = _account_query()
    clock = current_app.extensions["clock"]
    claims = decode_access(token, clock=clock)
    session = get_session()
    account = session.connection().execute(_ACCOUNT, {"id": int(claims["sub"]), "sid": claims["sid"]}).first()
    if account is None or account.status != "active" or account.family_revoked:
        raise ApiError("token_revoked")
    if claims["knd"] == "resident":
        if account.kind not in RESIDENT_ACCOUNT_KINDS or account.person_id is None:
            raise ApiError("token_invalid")
        return Principal("resident", account_id=account.id, person_id=account.person_id,
                         session_id=claims["sid"], remote_addr=request.remote_addr)
    if account.kind != "staff" or not isinstance(claims.get("org"), str):
        raise ApiError("token_invalid")
    row = session.execute(
        sa.select(Organisation.id, Organisation.code, Organisation.type, Membership.role)
        .join(Membership, Membership.organisation_id == Organisation.id)
        .where(Organisation.code == claims["org"], Membership.account_id == account.id,
               Membership.status == "active", Organisation.active.is_(True))
    ).first()
    if row is None:
        raise ApiError("not_a_member")
    return Principal("staff", account_id=account.id, person_id=account.person_id, org_id=row.id,
                     org_code=row.code, org_type=row.type, role=row.role, session_id=claims["sid"],
                     remote_addr=request.remote_addr)


def device_secret_hash(secret: str) -> str:
    """Device secrets are random, so one SHA-256 suffices (a slow hash would cap scans)."""
    return hashlib.sha256(secret.encode()).hexdigest()


_DEVICE = (
    sa.select(Device.id, Device.uid, Device.kind, Device.status, Device.secret_hash, Device.last_seen_at,
              Organisation.id.label("org_id"), Organisation.code.label("org_code"),
              Organisation.type.label("org_type"), Organisation.active.label("org_active"))
    .join(Organisation, Organisation.id == Device.organisation_id)
    .where(Device.uid == sa.bindparam("uid"))
)


def _from_basic(credentials: str) -> Principal:
    """A device: one query in the request's session (scanners call at a high rate, so every
    round trip counts), still re-read on every request so a disabled device stops at once."""
    try:
        decoded = base64.b64decode(credentials, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ApiError("device_credentials_invalid") from exc
    uid, sep, secret = decoded.partition(":")
    if not sep or not uid or not secret or len(uid) > 40 or len(secret) > 200:
        raise ApiError("device_credentials_invalid")
    session = get_session()
    device = session.connection().execute(_DEVICE, {"uid": uid}).first()  # Core: no ORM overhead
    expected = device.secret_hash if device else device_secret_hash("-")
    if not hmac.compare_digest(expected, device_secret_hash(secret)) or device is None:
        raise ApiError("device_credentials_invalid")
    if device.status != "active" or not device.org_active:
        raise ApiError("device_disabled")
    _touch_device(session, device.id, device.last_seen_at)
    return Principal("device", org_id=device.org_id, org_code=device.org_code, org_type=device.org_type,
                     device_id=device.id, device_uid=device.uid, device_kind=device.kind,
                     remote_addr=request.remote_addr)


def _touch_device(session: Session, device_id: int, last_seen_at: datetime | None) -> None:
    """Record ``last_seen_at`` at most once a minute. It is committed at once, in the
    request's session, before the view runs (a separate transaction would wait for the
    request's own write lock on SQLite). Best effort: if SQLite is busy, a later request
    records it."""
    now = current_app.extensions["clock"].now()
    if last_seen_at is not None and now - last_seen_at < LAST_SEEN_EVERY:
        return
    try:
        session.execute(sa.update(Device).where(Device.id == device_id).values(last_seen_at=now),
                        execution_options={"synchronize_session": False})
        session.commit()
    except OperationalError:
        session.rollback()


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
