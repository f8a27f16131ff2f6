"""Tickets whose content others will see (``config.moderated``: city reports feed a public map).

``moderate`` submits a new ticket's text and report photos to ``app.moderation``. Refused at
once → 422 ``content_rejected`` naming ``text`` or ``photos`` (nothing is kept); waiting →
``moderation_state`` ``pending``: the ticket stays with its first owner (not routed, not
transferable, in no other queue, in no public figure). Staff's decision arrives through
``moderation_decided``: cleared → ``visible`` and routed (the new owner told); refused →
``hidden``, the ticket rejected and the reporter told.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from app.moderation.models import ModerationItem
from app.moderation.service import moderation_decided, submit
from app.storage.models import Upload
from scenarios.engines.workflow import notifications, routing, sla, trail
from scenarios.engines.workflow.access import lock_ticket
from scenarios.engines.workflow.config import config_for
from scenarios.engines.workflow.models import SUBJECT, Ticket

MODERATION_SUBJECT = SUBJECT


def moderate(session: Session, *, clock: Clock, ticket: Ticket, text: str | None, uploads: Sequence[Upload]) -> str:
    """Submit a new ticket's text and photos; set its ``moderation_state`` or refuse it (422)."""
    state = submit(session, subject_type=MODERATION_SUBJECT, subject_id=ticket.id, clock=clock,
                   texts=[text] if text else [], uploads=uploads, author_account_id=ticket.reporter_account_id)
    if state == "rejected":
        kinds = set(session.scalars(sa.select(ModerationItem.kind).where(
            ModerationItem.subject_type == MODERATION_SUBJECT, ModerationItem.subject_id == str(ticket.id),
            ModerationItem.state == "rejected")))
        errors: dict[str, list[str]] = {}
        if "text" in kinds:
            errors["text"] = ["内容含有不当信息，请修改后再提交。"]
        if "media" in kinds:
            errors["photos"] = ["照片未通过审核，请更换后再提交。"]
        raise ApiError("content_rejected", errors=errors)
    ticket.moderation_state = "visible" if state == "cleared" else "pending"
    return state


def apply_moderation(session: Session, *, clock: Clock, ticket_id: int, state: str) -> None:
    """A staff (or WeChat) decision on a ticket whose content waited for review."""
    ticket = lock_ticket(session, ticket_id)
    if ticket is None or ticket.moderation_state != "pending":
        return
    config = config_for(ticket.scenario)
    now = clock.now()
    if state == "cleared":
        ticket.moderation_state = "visible"
        trail.touch(ticket, now)
        trail.add_event(session, ticket, None, "moderation_cleared", at=now)
        if config is not None and ticket.is_open and not routing.was_moved(session, ticket):
            routed = routing.route_ticket(session, clock=clock, config=config, ticket=ticket)
            if routed is not None:
                notifications.tell_new_owner(session, clock, config, ticket, routed.event, routed.moved)
    elif state == "rejected":
        ticket.moderation_state = "hidden"
        from_status = ticket.status
        if ticket.is_open:
            ticket.status = "rejected"
            sla.cancel(session, ticket)
        trail.touch(ticket, now)
        trail.add_event(session, ticket, None, "moderation_rejected", at=now, from_status=from_status,
                        to_status=ticket.status, note="内容未通过审核")
        notifications.tell(session, clock, ticket, key="moderation_rejected", template="wf.content_rejected",
                           recipients=notifications.reporter(ticket), config=config, reason="内容未通过审核")
    session.flush()


@moderation_decided.connect_via(MODERATION_SUBJECT)
def _on_decided(sender: str, *, session: Session, subject_id: str, state: str, clock: Clock) -> None:
    apply_moderation(session, clock=clock, ticket_id=int(subject_id), state=state)
