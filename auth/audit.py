"""Audit of personal data read unmasked by staff: who, for which organisation, whom, what,
why and when. Entries are append-only; district administrators read them through
``GET /api/v1/admin/audit``."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from app.request_context import request_id
from auth.models import AuditEntry
from auth.principal import Principal

REASON_MAX = 300
REVEALABLE = ("phone", "id_number")


def require_fields(requested: Iterable[str] | None, *, allowed: Iterable[str] = REVEALABLE) -> tuple[str, ...]:
    """The fields a reveal names: at least one, each one of ``allowed`` (a 422 on ``fields`` otherwise)."""
    allowed = tuple(allowed)
    requested = list(requested or [])
    unknown = sorted({f for f in requested if f not in allowed})
    if unknown or not requested:
        refused = f"；不可查看：{', '.join(unknown)}。" if unknown else "。"
        raise ApiError("validation_error",
                       errors={"fields": [f"请选择要查看的信息（至少一项）：{', '.join(allowed)}{refused}"]})
    return tuple(f for f in allowed if f in requested)


def require_reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not 2 <= len(reason) <= REASON_MAX:
        raise ApiError("reason_required", errors={"reason": [f"请填写 2–{REASON_MAX} 字的查看理由。"]})
    return reason


def record_unmasked_read(session: Session, *, clock: Clock, principal: Principal, subject_person_id: int,
                         fields: Iterable[str], reason: str | None, action: str = "read_unmasked") -> AuditEntry:
    """Call before returning unmasked data (or acting on a person's data: ``action``); the
    entry commits with the request."""
    if principal.kind != "staff" or principal.account_id is None:
        raise ApiError("forbidden")
    entry = AuditEntry(
        at=clock.now(), actor_account_id=principal.account_id, acting_org_id=principal.org_id,
        subject_person_id=subject_person_id, action=action, fields=sorted(set(fields)),
        reason=require_reason(reason), request_id=request_id(),
    )
    session.add(entry)
    session.flush()
    return entry


def entries(*, subject_person_id: int | None = None, actor_account_id: int | None = None,
            since: datetime | None = None, until: datetime | None = None) -> sa.Select:
    """The audit entries the filters select, newest first (the API's ``GET /admin/audit`` and
    the console's audit page)."""
    stmt = sa.select(AuditEntry)
    if subject_person_id is not None:
        stmt = stmt.where(AuditEntry.subject_person_id == subject_person_id)
    if actor_account_id is not None:
        stmt = stmt.where(AuditEntry.actor_account_id == actor_account_id)
    if since is not None:
        stmt = stmt.where(AuditEntry.at >= since)
    if until is not None:
        stmt = stmt.where(AuditEntry.at < until)
    return stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
