"""The workflow engine's part of a person's export: the tickets they reported or that are about
them, with their public trail (internal staff notes left out) and photos. Staff who handled a
ticket are named by their role only (other people's data is not in a resident's copy)."""
from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.privacy.parts import PersonalData, Rows, Section, Subject, plain
from app.privacy.retention import ON_CANCELLATION, Keep
from scenarios.engines.workflow.models import Ticket, TicketEvent, TicketPhoto


def _collect(session: Session, subject: Subject) -> Mapping[str, Rows]:
    tickets = list(session.scalars(sa.select(Ticket).where(sa.or_(
        Ticket.reporter_account_id.in_(subject.account_ids), Ticket.subject_person_id == subject.person_id))
        .order_by(Ticket.id)))
    ids = [t.id for t in tickets]
    events = session.scalars(sa.select(TicketEvent).where(TicketEvent.ticket_id.in_(ids),
                                                          TicketEvent.internal.is_(False))
                             .order_by(TicketEvent.ticket_id, TicketEvent.id))
    photos = session.scalars(sa.select(TicketPhoto).where(TicketPhoto.ticket_id.in_(ids))
                             .order_by(TicketPhoto.ticket_id, TicketPhoto.position))
    return {
        "tickets": [plain(t, exclude=("assignee_account_id", "reporter_account_id")) for t in tickets],
        "ticket_events": [{**plain(e, exclude=("actor_account_id",)),
                           "actor": "本人" if e.actor_account_id in subject.account_ids else e.actor_kind}
                          for e in events],
        "ticket_photos": [plain(p, exclude=("added_by_account_id",)) for p in photos],
    }


PERSONAL_DATA = PersonalData(
    name="workflow",
    tables=("wf_tickets", "wf_ticket_events", "wf_ticket_photos"),
    sections=(Section("tickets", "工单（报修、投诉、上报）"), Section("ticket_events", "工单处理记录"),
              Section("ticket_photos", "工单照片")),
    collect=_collect,
    retention=(Keep("wf_tickets", "工单（报修、投诉、上报）", None, ON_CANCELLATION + "（工单留档，报告人匿名）"),
               Keep("wf_ticket_events", "工单处理记录", None, "随工单保存"),
               Keep("wf_ticket_photos", "工单照片", None, "随工单保存")),
)
