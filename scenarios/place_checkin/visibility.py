"""Who sees a check-in place and its sentinels (registered with ``auth.visibility``).

A place is seen only by the staff of the organisation that operates it (members; not the
organisations above it: a place's flow of visitors is the operator's business). A sentinel
URL (``/places/<code>/sentinels/<device_id>``) names a device of that operator: visible with
the place; another organisation's device is 404, like a device that does not exist.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from auth.models import Device
from auth.organisations import Organisation
from auth.permissions import reach
from auth.principal import Principal
from auth.visibility import register
from scenarios.place_checkin.models import CheckinPlace
from scenarios.place_checkin.service import CODE_RE


def _place(session: Session, code: Any) -> CheckinPlace | None:
    if not isinstance(code, str) or not CODE_RE.fullmatch(code):
        return None
    return session.scalar(sa.select(CheckinPlace).where(CheckinPlace.code == code))


def _operates(session: Session, principal: Principal, place: CheckinPlace) -> bool:
    org = session.get(Organisation, place.operator_id)
    return org is not None and reach(principal, org, session=session) == "member"


def _sentinel(session: Session, key: tuple[str, str]) -> tuple[CheckinPlace, str] | None:
    """The place and the device id (the device is looked up once the place is visible)."""
    place = _place(session, key[0])
    return (place, key[1]) if place is not None else None


def _sees_sentinel(session: Session, principal: Principal, at: tuple[CheckinPlace, str]) -> bool:
    place, uid = at
    return _operates(session, principal, place) and session.scalar(
        sa.select(Device.id).where(Device.uid == uid, Device.organisation_id == place.operator_id)) is not None


def register_object_types() -> None:
    register("checkin_place", load=_place, visible=_operates, description="a check-in place (its operator's staff)")
    register("sentinel", load=_sentinel, visible=_sees_sentinel,
             description="a sentinel device of a place's operator, at that place")
