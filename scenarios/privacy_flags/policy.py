"""Where a flag is filed and what it carries: privacy-flags' own rules.

- **Filed** only through ``POST /api/v1/me/data-access/<id>/flag`` (``service.flag``), which
  hands ``locate`` the audit row; the engine's own filing route has none and is refused (403).
- **Owned** by the district (the active organisation of type ``district``), whose
  administrators handle it, and dispatched by it.
- **Attached**: the audit row as it stands (``attachment``): when, what was read, the acting
  organisation and the reader's role there, the stated reason — in the ticket's details, so the
  ticket keeps it after the audit row's own retention ends.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from app.fields import CST
from auth.models import AuditEntry, Membership
from auth.organisations import Organisation
from auth.principal import Principal
from scenarios.engines.workflow.config import Placement

CATEGORY = "查看异议"
AUDIT = "audit"
"""The key under which ``service.flag`` passes the attachment to ``locate`` (no request field has it)."""


def district(session: Session) -> Organisation:
    org = session.scalar(sa.select(Organisation).where(Organisation.type == "district", Organisation.active.is_(True))
                         .order_by(Organisation.id).limit(1))
    if org is None:
        raise ApiError("not_ready")  # reference data not loaded
    return org


def attachment(session: Session, entry: AuditEntry) -> dict[str, Any]:
    """The audit row as the district's administrators need it (the reader by account id: they
    find them through ``GET /api/v1/admin/audit``)."""
    org = session.get(Organisation, entry.acting_org_id) if entry.acting_org_id else None
    role = session.scalar(sa.select(Membership.role).where(Membership.account_id == entry.actor_account_id,
                                                           Membership.organisation_id == entry.acting_org_id)
                          .order_by(Membership.id).limit(1)) if org else None
    return {"audit_entry_id": entry.id, "read_at": entry.at.astimezone(CST).isoformat(), "action": entry.action,
            "fields": list(entry.fields), "reason": entry.reason, "organisation_code": org.code if org else None,
            "organisation": org.name if org else None, "role": role}


def locate(session: Session, *, clock: Clock, principal: Principal, data: dict[str, Any]) -> Placement:
    audit = data.get(AUDIT)
    if audit is None:
        raise ApiError("forbidden")  # a flag names a read: POST /api/v1/me/data-access/<id>/flag
    owner = district(session)
    return Placement(org=owner, dispatcher=owner, subject_person_id=principal.person_id, details={AUDIT: audit})
