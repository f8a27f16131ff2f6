"""hotline-12345's part of a person's export: the work orders filed for calls from their
verified number (the caller's own phone in full: it is theirs)."""
from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.privacy.parts import PersonalData, Rows, Section, Subject
from app.privacy.retention import Keep
from scenarios.engines.workflow.models import Ticket
from scenarios.hotline_12345.models import HotlineCaller


def _collect(session: Session, subject: Subject) -> Mapping[str, Rows]:
    if not subject.account_ids:
        return {"hotline_calls": []}
    rows = session.execute(
        sa.select(HotlineCaller.phone, Ticket.number, Ticket.category, Ticket.status, Ticket.created_at)
        .join(Ticket, Ticket.id == HotlineCaller.ticket_id)
        .where(HotlineCaller.resident_account_id.in_(subject.account_ids))
        .order_by(Ticket.created_at))
    return {"hotline_calls": [{"number": number, "caller_phone": phone, "category": category, "status": status,
                               "created_at": created_at}
                              for phone, number, category, status, created_at in rows]}


PERSONAL_DATA = PersonalData(
    name="hotline-12345", tables=("hl_callers",), sections=(Section("hotline_calls", "12345热线来电工单"),),
    collect=_collect,
    retention=(Keep("hl_callers", "12345热线来电号码", None, "随工单留档保存（热线工单档案）"),),
)
