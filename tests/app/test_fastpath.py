"""The platform's fast path (app/fastpath.py) writes what the plain path writes: the same
notices enqueued both ways on PostgreSQL, every outbox row and delivery timer compared."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.db import FAST_PATHS
from app.notify.models import OutboxMessage
from app.notify.service import Notice, Recipient, enqueue_many
from app.timers import Timer
from tests.support.database import backend

pytestmark = pytest.mark.skipif(backend() != "postgresql", reason="fast paths are PostgreSQL's")


def _notices(tag: str) -> list[Notice]:
    return [
        Notice(f"{tag}:1", "ticket_received", (Recipient.account(5), Recipient("org", 9), Recipient.account(5)),
               {"n": 1, "text": "新工单", "nested": {"a": [1, 2]}}, "log", False),
        Notice(f"{tag}:2", "ticket_escalated", (Recipient.account(6),), None, "sms", True),
        Notice(f"{tag}:3", "nobody", (), {"x": 1}, "log", False),
    ]


def _rows(session, tag: str) -> list[tuple]:
    session.expire_all()
    rows = session.execute(
        sa.select(OutboxMessage, Timer)
        .join(Timer, sa.and_(Timer.subject_type == "outbox", Timer.subject_id == sa.cast(OutboxMessage.id, sa.String)))
        .where(OutboxMessage.event_key.like(f"{tag}:%")).order_by(OutboxMessage.id)).all()
    return [(m.event_key.removeprefix(tag), m.recipient_kind, m.recipient_id, m.channel, m.template, m.payload,
             m.urgent, m.state, m.attempts, m.created_at, m.updated_at,
             t.kind, t.level, t.due_at, t.state, t.attempts) for m, t in rows]


def test_enqueueing_writes_the_same_rows_either_way_and_repeats_are_no_ops(db, session, clock):
    counts = {}
    for fast, tag in ((True, "fast"), (False, "plain")):
        session.info[FAST_PATHS] = fast
        counts[tag] = [enqueue_many(session, _notices(tag), clock=clock),
                       enqueue_many(session, _notices(tag), clock=clock)]  # a repeat adds nothing
    session.info.pop(FAST_PATHS)
    assert counts["fast"] == counts["plain"] == [3, 0]
    assert _rows(session, "fast") == _rows(session, "plain") != []
