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
from auth.principal import device_secret_hash


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
