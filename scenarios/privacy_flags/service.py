"""Flagging a read: one ticket per audit row, however often and however concurrently asked.

The flag's row is inserted first (``ON CONFLICT DO NOTHING`` on the audit id): the first
request files the ticket in the same transaction; a second, or one racing it (on PostgreSQL
it waits on the key until the first commits), finds the row and answers the same ticket.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.db import insert_for
from auth.models import AuditEntry
from auth.principal import Principal
from scenarios.engines.workflow import service as workflow
from scenarios.engines.workflow.models import Ticket
from scenarios.privacy_flags import CONFIG
from scenarios.privacy_flags.models import PfFlag
from scenarios.privacy_flags.policy import AUDIT, CATEGORY, attachment


def flag(session: Session, *, clock: Clock, principal: Principal, entry: AuditEntry,
         note: str | None) -> tuple[Ticket, bool]:
    """The ticket of ``entry``'s flag and whether this call filed it."""
    now = clock.now()
    taken = session.execute(insert_for(session, PfFlag.__table__).values(audit_entry_id=entry.id, flagged_at=now)
                            .on_conflict_do_nothing(index_elements=["audit_entry_id"])
                            .returning(PfFlag.audit_entry_id)).scalar()
    if taken is None:
        ticket_id = session.scalar(sa.select(PfFlag.ticket_id).where(PfFlag.audit_entry_id == entry.id))
        return session.get(Ticket, ticket_id), False
    note = CONFIG.check_text(note, "note", required=False)
    text = f"居民认为此次查看不应发生：{note}" if note else "居民认为此次查看不应发生。"
    created = workflow.create(session, clock=clock, principal=principal, config=CONFIG,
                              data={"category": CATEGORY, "text": text, AUDIT: attachment(session, entry)})
    session.execute(sa.update(PfFlag).where(PfFlag.audit_entry_id == entry.id)
                    .values(ticket_id=created.ticket.id))
    return created.ticket, True
