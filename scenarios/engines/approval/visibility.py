"""Who sees an application (``ap_application``): its applicant and the reviewing organisation's staff."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from auth.principal import Principal
from auth.visibility import register
from scenarios.engines.approval.models import SUBJECT, ApApplication


def _application(session: Session, key: Any) -> ApApplication | None:
    return session.get(ApApplication, key) if isinstance(key, int) and 0 < key < 2**63 else None


def sees_application(session: Session, principal: Principal, application: ApApplication) -> bool:
    if principal.is_resident:
        return principal.account_id == application.applicant_account_id
    return principal.is_staff and principal.org_id == application.org_id


def register_object_types() -> None:
    register(SUBJECT, load=_application, visible=sees_application,
             description="an application (its applicant; the reviewing organisation's staff)")
