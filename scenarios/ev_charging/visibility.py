"""Who sees a charging session (``ev_session`` in ``auth.visibility``'s registry): the person
charging, and staff acting for the pile's operator (who may read it, not stop it: 403). Anyone
else gets 404, as for a session that does not exist."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from auth.principal import Principal
from auth.visibility import register
from scenarios.ev_charging.models import SESSION_SUBJECT, EvSession


def _load(session: Session, key: Any) -> EvSession | None:
    return session.get(EvSession, key) if isinstance(key, int) and 0 < key < 2**63 else None


def sees_session(session: Session, principal: Principal, row: EvSession) -> bool:
    if principal.is_resident:
        return principal.person_id == row.person_id
    return principal.is_staff and principal.org_id == row.operator_org_id


def register_object_types() -> None:
    register(SESSION_SUBJECT, load=_load, visible=sees_session,
             description="a charging session (its person; staff of the pile's operator)")
