"""Public helpers for booking scenarios' demo data: a resource with its hours, idempotently."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from auth.organisations import Organisation
from auth.principal import Principal
from scenarios.engines.booking import resources, slots
from scenarios.engines.booking.config import BookingConfig
from scenarios.engines.booking.models import BkResource
from scenarios.engines.booking.service import local_day


def ensure_resource(session: Session, clock: Clock, config: BookingConfig, owner: Organisation, *, code: str,
                    manager_role: str, **fields: object) -> BkResource:
    """The resource ``code`` (created as the owner's manager would, slots and all), its slots
    extended to the scenario's window when it exists already."""
    resource = session.scalar(sa.select(BkResource).where(BkResource.code == code))
    if resource is None:
        manager = Principal("staff", org_id=owner.id, org_code=owner.code, org_type=owner.type, role=manager_role)
        return resources.create(session, clock=clock, principal=manager, config=config, code=code, **fields)
    slots.generate(session, resource, first=local_day(clock.now()), days=config.window_days)
    return resource
