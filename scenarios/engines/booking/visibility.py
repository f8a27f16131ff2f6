"""Who sees a booking, a slot and a resource (registered with ``auth.visibility``).

- A booking (``bk_booking``): the person booked for, the booker, anyone who may act for the
  person in the scenario's scope, and staff of the organisation that owns the resource.
- A slot (``bk_slot``) and a resource (``bk_resource``) of an active resource: everyone signed
  in (availability is public); an inactive resource's: its owner's staff only.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from auth.principal import Principal
from auth.relations import may_act_for
from auth.visibility import register
from scenarios.engines.booking.config import config_for
from scenarios.engines.booking.models import SUBJECT, BkBooking, BkResource, BkSlot
from scenarios.engines.booking.resources import load_resource


def _int(key: Any) -> int | None:
    return key if isinstance(key, int) and 0 < key < 2**63 else None


def _booking(session: Session, key: Any) -> BkBooking | None:
    return session.get(BkBooking, key) if _int(key) else None


def _owner_of(session: Session, resource_id: int) -> int | None:
    return session.scalar(sa.select(BkResource.owner_org_id).where(BkResource.id == resource_id))


def sees_booking(session: Session, principal: Principal, booking: BkBooking) -> bool:
    if principal.is_resident:
        me = principal.person_id
        if me in (booking.person_id, booking.booker_person_id):
            return True
        config = config_for(booking.scenario)
        return me is not None and config is not None and may_act_for(session, me, booking.person_id,
                                                                     config.act_scope)
    if principal.is_staff:
        return principal.org_id == _owner_of(session, booking.resource_id)
    return False


def _sees_resource(session: Session, principal: Principal, resource: BkResource) -> bool:
    return resource.active or (principal.is_staff and principal.org_id == resource.owner_org_id)


def _slot(session: Session, key: Any) -> BkSlot | None:
    return session.get(BkSlot, key) if _int(key) else None


def _sees_slot(session: Session, principal: Principal, slot: BkSlot) -> bool:
    resource = session.get(BkResource, slot.resource_id)
    return resource is not None and _sees_resource(session, principal, resource)


def register_object_types() -> None:
    register(SUBJECT, load=_booking, visible=sees_booking,
             description="a booking (its person, booker, those acting for the person; the owner's staff)")
    register("bk_slot", load=_slot, visible=_sees_slot, description="a slot of an active resource (everyone)")
    register("bk_resource", load=load_resource, visible=_sees_resource,
             description="a bookable resource (everyone while active; its owner's staff)")
