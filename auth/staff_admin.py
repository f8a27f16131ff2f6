"""An organisation's staff as its managers administer them (invite, change role, disable):
the services behind ``/api/v1/orgs/<code>/staff`` and the staff console's staff page."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from auth import staff
from auth.models import Membership, RefreshToken
from auth.organisations import Organisation
from auth.permissions import require_org_role
from auth.principal import Principal
from auth.roles import STAFF_MANAGERS
from auth.signals import membership_disabled

MANAGERS_VIA = ("member", "ancestor", "district")


def managed_org(session: Session, principal: Principal, code: str) -> Organisation:
    """The organisation ``code``, whose staff the principal manages (403 otherwise)."""
    return require_org_role(session, principal, code, STAFF_MANAGERS, via=MANAGERS_VIA)


def members(org: Organisation) -> sa.Select:
    return sa.select(Membership).where(Membership.organisation_id == org.id).order_by(Membership.id)


def member(session: Session, org: Organisation, membership_id: int) -> Membership:
    membership = session.get(Membership, membership_id)
    if membership is None or membership.organisation_id != org.id:
        raise ApiError("not_found")
    return membership


def change(session: Session, *, clock: Clock, principal: Principal, org: Organisation, membership_id: int,
           role: str | None = None, status: str | None = None) -> Membership:
    """Change a member's role and/or status (not one's own); disabling ends their sessions in
    the organisation at once."""
    membership = member(session, org, membership_id)
    if membership.account_id == principal.account_id:
        raise ApiError("cannot_change_self")
    if role is not None:
        staff.validate_role(org, role)
        membership.role = role
    if status is not None:
        was = membership.status
        membership.status = status
        if status == "disabled":
            session.execute(sa.update(RefreshToken).where(
                RefreshToken.account_id == membership.account_id, RefreshToken.organisation_id == org.id,
                RefreshToken.revoked_at.is_(None)).values(revoked_at=clock.now(), revoked_reason="membership_disabled"))
            if was != "disabled":
                membership_disabled.send(None, session=session, account_id=membership.account_id, org_id=org.id,
                                         at=clock.now())
    session.flush()
    return membership
