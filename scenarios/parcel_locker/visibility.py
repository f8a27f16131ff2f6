"""Who sees a parcel (``pl_parcel``, registered with ``auth.visibility``): its recipient (the
resident whose phone is the parcel's), the relative they named, and the operator's staff.
Anyone else — another resident, another operator, a device — gets 404, as for no parcel."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from auth.principal import Principal
from auth.visibility import register
from scenarios.parcel_locker.models import Parcel
from scenarios.parcel_locker.service import SUBJECT, is_operator_staff, is_recipient


def _load(session: Session, key: Any) -> Parcel | None:
    return session.get(Parcel, key) if isinstance(key, int) else None


def sees(session: Session, principal: Principal, parcel: Parcel) -> bool:
    if principal.kind == "resident":
        return parcel.proxy_person_id == principal.person_id or is_recipient(session, principal, parcel)
    return is_operator_staff(principal, parcel)


def register_object_types() -> None:
    register(SUBJECT, load=_load, visible=sees,
             description="a parcel in a locker (its recipient, the relative they named, the operator's staff)")
