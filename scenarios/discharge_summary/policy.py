"""Where a follow-up ticket is filed: with the hospital that published its summary, about its
patient (``locate``); filed by that hospital's clerks and doctors only (with a summary of
their own organisation), whether from a published summary or ``POST /tickets``."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from auth.organisations import Organisation
from auth.principal import Principal
from scenarios.discharge_summary.models import DsSummary
from scenarios.engines.workflow.config import Placement


def locate(session: Session, *, clock: Clock, principal: Principal, data: dict[str, Any]) -> Placement:
    if not principal.is_staff:
        raise ApiError("forbidden")
    summary_id = data.get("summary_id")
    summary = session.get(DsSummary, summary_id) if isinstance(summary_id, int) and 0 < summary_id < 2**63 else None
    if summary is None or summary.org_id != principal.org_id:
        raise ApiError("validation_error", errors={"summary_id": ["没有这份本院的出院小结。"]})
    due_at = data.get("due_at")
    if due_at is None or due_at <= clock.now():
        raise ApiError("follow_up_in_past", errors={"due_at": ["随访日期须晚于当前时间。"]})
    return Placement(org=session.get(Organisation, summary.org_id), subject_person_id=summary.patient_person_id,
                     details={"summary_id": summary.id})


def resolution_due(data: dict[str, Any]) -> datetime | None:
    return data.get("due_at")
