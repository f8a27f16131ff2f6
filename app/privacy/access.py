"""Who read my data (PIPL art. 44): the audit log's unmasked staff reads of a person, newest
first: when, which organisation, which role, which fields, the stated reason. The staff
member's own name (their contact's display name) is masked unless the district's policy
(setting ``DATA_ACCESS_READER_NAMES=clear``) says otherwise."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.api import paginate
from auth.contacts import StaffContact
from auth.models import AuditEntry, Membership
from auth.organisations import Organisation
from auth.pii import mask_name
from auth.roles import ROLE_TITLES

CLEAR = "clear"


def reads(session: Session, *, person_id: int, page: dict[str, Any], reader_names: str | None) -> dict[str, Any]:
    """One page of the staff reads of ``person_id``'s data."""
    role = (sa.select(Membership.role).where(Membership.account_id == AuditEntry.actor_account_id,
                                            Membership.organisation_id == AuditEntry.acting_org_id)
            .order_by(Membership.id).limit(1).scalar_subquery())
    stmt = (sa.select(AuditEntry, Organisation.name, Organisation.type, role, StaffContact.display_name)
            .outerjoin(Organisation, Organisation.id == AuditEntry.acting_org_id)
            .outerjoin(StaffContact, StaffContact.account_id == AuditEntry.actor_account_id)
            .where(AuditEntry.subject_person_id == person_id)
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()))
    found = paginate(session, stmt, page, rows=True)
    clear = reader_names == CLEAR
    found["items"] = [{
        "id": entry.id, "at": entry.at, "action": entry.action, "fields": list(entry.fields), "reason": entry.reason,
        "organisation": org_name, "organisation_type": org_type, "role": role_name,
        "role_title": ROLE_TITLES.get(role_name or ""),
        "reader": (name if clear else mask_name(name)) if name else None,
    } for entry, org_name, org_type, role_name, name in found["items"]]
    return found
