"""Photos of a ticket: the caller's own uploads attached at report time (``report``) or with
a resolution or a staff note (``resolution``), at most ``config.max_photos`` per stage."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.errors import ApiError
from app.storage.models import Upload
from app.storage.service import claim_photos
from auth.principal import Principal
from scenarios.engines.workflow.config import WorkflowConfig
from scenarios.engines.workflow.models import Ticket, TicketEvent, TicketPhoto


def count(session: Session, ticket: Ticket, stage: str) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(TicketPhoto).where(
        TicketPhoto.ticket_id == ticket.id, TicketPhoto.stage == stage)) or 0


def attach(session: Session, ticket: Ticket, *, public_ids: list[str] | None, principal: Principal,
           stage: str, event: TicketEvent | None, config: WorkflowConfig, now: datetime) -> list[Upload]:
    """Attach the caller's own uploads (``claim_photos`` refuses anyone else's) within the limit."""
    public_ids = list(public_ids or [])
    if not public_ids:
        return []
    existing = count(session, ticket, stage)
    uploads = claim_photos(session, public_ids=public_ids, owner_account_id=principal.account_id,
                           max_count=max(config.max_photos - existing, 0))
    already = set(session.scalars(sa.select(TicketPhoto.upload_id).where(TicketPhoto.ticket_id == ticket.id)))
    if already & {u.id for u in uploads}:
        raise ApiError("validation_error", errors={"photos": ["该照片已添加到此工单。"]})
    for i, upload in enumerate(uploads):
        session.add(TicketPhoto(ticket_id=ticket.id, upload_id=upload.id, stage=stage,
                                event_id=event.id if event else None, added_by_account_id=principal.account_id,
                                position=existing + i, created_at=now))
    session.flush()
    return uploads
