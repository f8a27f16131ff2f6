"""The one unmasked staff read of a resident's claim: the fields named, a reason, an audit row
written before anything is shown. The API (``POST /api/v1/orgs/<code>/residences/<id>/reveal``)
and the staff console call this same function."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from app.clock import Clock
from auth import residences
from auth.audit import record_unmasked_read, require_fields
from auth.models import Residence
from auth.permissions import require_org_role
from auth.principal import Principal


def reveal_residence(session: Session, *, clock: Clock, principal: Principal, code: str, residence_id: int,
                     fields: Iterable[str] | None, reason: str | None) -> tuple[Residence, tuple[str, ...]]:
    """The claim and the fields to show in full, once the read is audited (flushed; the caller commits)."""
    wanted = require_fields(fields)
    org = require_org_role(session, principal, code, residences.REVIEWER_ROLES, via=("member",))
    residence = residences.residence_for_staff(session, clock=clock, principal=principal, org=org,
                                               residence_id=residence_id)
    record_unmasked_read(session, clock=clock, principal=principal, subject_person_id=residence.person_id,
                         fields=wanted, reason=reason)
    return residence, wanted
