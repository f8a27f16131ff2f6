"""Devices of an organisation (sentinels, gates, scanners): created with a secret shown
once, stored as its SHA-256, authenticated with HTTP Basic (``auth.principal``)."""
from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.errors import ApiError
from auth.models import DEVICE_KINDS, Device
from auth.organisations import Organisation
from auth.permissions import org_by_code, require_visible
from auth.principal import Principal, device_secret_hash
from auth.roles import STAFF_MANAGERS


def validate_kind(kind: str) -> None:
    if kind not in DEVICE_KINDS:
        raise ApiError("validation_error", errors={"kind": [f"可选类型：{', '.join(DEVICE_KINDS)}。"]})


def create_device(session: Session, *, org: Organisation, kind: str, name: str) -> tuple[Device, str]:
    """A new active device and its secret (the only time the secret is seen)."""
    validate_kind(kind)
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise ApiError("validation_error", errors={"name": ["名称须为 1–100 个字符。"]})
    secret = secrets.token_urlsafe(32)
    device = Device(uid="dv_" + secrets.token_hex(10), organisation_id=org.id, kind=kind, name=name,
                    secret_hash=device_secret_hash(secret), status="active")
    session.add(device)
    session.flush()
    return device, secret


def require_device_access(session: Session, principal: Principal, code: str) -> Organisation:
    """The organisation whose devices the caller sees and may disable: any member of it,
    managers of organisations above it (404 not visible, 403 otherwise). Creating one is for
    its managers (``auth.staff_admin.managed_org``)."""
    org = org_by_code(session, code)
    how = require_visible(principal, org, session=session)
    if how == "member" or (how in ("ancestor", "district") and principal.role in STAFF_MANAGERS):
        return org
    raise ApiError("forbidden")


def of_org(org: Organisation) -> sa.Select:
    return sa.select(Device).where(Device.organisation_id == org.id).order_by(Device.id)


def change(device: Device, changes: dict[str, Any]) -> Device:
    """Rename (``name``), disable or re-enable (``status``): a disabled device is refused at its
    next request (the authentication cache is told on commit)."""
    for key in ("name", "status"):
        if key in changes:
            setattr(device, key, changes[key])
    return device


def device_of_org(session: Session, org: Organisation, uid: str) -> Device:
    device = session.scalar(sa.select(Device).where(Device.uid == uid, Device.organisation_id == org.id))
    if device is None:
        raise ApiError("not_found")
    return device


def describe(device: Device) -> dict[str, Any]:
    return {
        "device_id": device.uid,
        "kind": device.kind,
        "name": device.name,
        "status": device.status,
        "last_seen_at": device.last_seen_at,
        "created_at": device.created_at,
    }
