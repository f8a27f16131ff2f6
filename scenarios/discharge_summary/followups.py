"""Follow-up tasks of a summary (a call, a revisit, a test, each due on a date the doctor sets)
are tickets of the workflow engine owned by the hospital: its follow-up team (``followup``)
handles them, the due date is the ticket's resolution deadline (``WorkflowConfig.resolution_due``),
and a missed one escalates to the department heads (the managers told of a missed resolution)
and, unanswered, to 区卫健委's supervisors. The ticket's text names the kind and the summary,
never the clinical note (that stays encrypted in the summary)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from app.fields import CST
from auth.principal import Principal

KINDS = {"call": "电话随访", "revisit": "复诊", "test": "检查"}
MAX_FOLLOW_UPS = 12


def checked(items: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    if len(items) > MAX_FOLLOW_UPS:
        raise ApiError("validation_error", errors={"follow_ups": [f"最多 {MAX_FOLLOW_UPS} 项随访。"]})
    for i, item in enumerate(items):
        if item["due_at"] <= now:
            raise ApiError("follow_up_in_past", errors={f"follow_ups.{i}.due_at": ["随访日期须晚于当前时间。"]})
    return items


def ticket_text(kind: str, summary_id: int, due_at: datetime) -> str:
    return f"{KINDS[kind]}：出院小结 #{summary_id}，{due_at.astimezone(CST):%Y-%m-%d %H:%M} 前完成"


def file_all(session: Session, *, clock: Clock, principal: Principal, summary: Any,
             follow_ups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """File one ticket per follow-up; what the summary keeps of each (encrypted with it)."""
    from scenarios.discharge_summary.config import CONFIG
    from scenarios.engines.workflow import service as workflow

    kept = []
    for item in follow_ups:
        created = workflow.create(session, clock=clock, principal=principal, config=CONFIG, data={
            "category": KINDS[item["kind"]], "text": ticket_text(item["kind"], summary.id, item["due_at"]),
            "summary_id": summary.id, "due_at": item["due_at"]})
        kept.append({"kind": item["kind"], "due_at": item["due_at"].isoformat(), "note": item.get("note"),
                     "ticket_id": created.ticket.id, "ticket_number": created.ticket.number})
    return kept
