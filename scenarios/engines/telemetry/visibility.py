"""Who sees a telemetry source (``tm_source``: one device's readings of one kind, registered
with ``auth.visibility``): staff of the owning organisation and the device itself. Reading its
history is for the scenario's ``staff_roles`` (others who see it: 403)."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from auth.principal import Principal
from auth.visibility import register
from scenarios.engines.telemetry.models import SOURCE, TmSource


def _source(session: Session, key: Any) -> TmSource | None:
    return session.get(TmSource, key) if isinstance(key, int) and 0 < key < 2**63 else None


def sees_source(session: Session, principal: Principal, source: TmSource) -> bool:
    if principal.is_device:
        return principal.device_id == source.device_id
    return principal.is_staff and principal.org_id == source.organisation_id


def register_object_types() -> None:
    register(SOURCE, load=_source, visible=sees_source,
             description="a device's readings of one kind (staff of the owning organisation; the device)")
