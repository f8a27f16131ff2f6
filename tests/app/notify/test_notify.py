"""The outbox: enqueued once per (event, recipient, channel), delivered by the worker with retries."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.notify import service as notify
from app.notify.channels import CHANNELS, Outcome, register_channel
from app.notify.models import OutboxMessage
from app.notify.service import Recipient, enqueue
from app.timers import Timer
from app.worker import Worker


class FlakyChannel:
    """A channel that fails a set number of times, then delivers."""

    name = "flaky-test"

    def __init__(self) -> None:
        self.failures_left = 0
        self.permanent = False
        self.delivered: list[int] = []

    def deliver(self, message: OutboxMessage) -> Outcome:
        if self.permanent:
            return Outcome("failed", "40003 invalid openid")
        if self.failures_left:
            self.failures_left -= 1
            return Outcome("retry", "timeout")
        self.delivered.append(message.id)
        return Outcome("sent")


flaky = FlakyChannel()
register_channel(flaky)


def worker_for(db, clock) -> Worker:
    return Worker(db, clock, worker_id="test-notify", tick_seconds=0.01)


def test_enqueue_is_once_per_event_and_recipient(session, clock):
    recipients = [Recipient.account(1), Recipient.account(2), Recipient.account(1)]
    assert enqueue(session, event_key="t:1:created", template="ticket_created", recipients=recipients,
                   clock=clock) == 2
    assert enqueue(session, event_key="t:1:created", template="ticket_created",
                   recipients=[Recipient.account(2), Recipient.account(3)], clock=clock) == 1
    rows = notify.messages_for(session, event_key="t:1:created")
    assert [r.recipient_id for r in rows] == ["1", "2", "3"]
    timers = session.scalars(sa.select(Timer).where(Timer.kind == notify.DELIVER_KIND)).all()
    assert len(timers) == 3


def test_worker_delivers_on_the_log_channel(db, clock):
    with db.transaction() as s:
        enqueue(s, event_key="t:2:ack", template="ticket_acknowledged", recipients=[Recipient.account(7)],
                clock=clock)
    assert worker_for(db, clock).run_once() >= 1
    with db.transaction() as s:
        (row,) = notify.messages_for(s, event_key="t:2:ack")
        assert row.state == "sent" and row.attempts == 1 and row.sent_at == clock.now()
    assert "log" in CHANNELS


def test_retry_with_backoff_then_sent(db, clock):
    flaky.failures_left = 2
    with db.transaction() as s:
        enqueue(s, event_key="t:3:esc", template="escalated", recipients=[Recipient.account(9)],
                clock=clock, channel=flaky.name)
    worker = worker_for(db, clock)
    worker.run_once()
    with db.transaction() as s:
        (row,) = notify.messages_for(s, event_key="t:3:esc")
        assert row.state == "pending" and row.attempts == 1 and row.last_error == "timeout"
    worker.run_once()  # not due yet: backoff
    clock.advance(seconds=15)
    worker.run_once()
    clock.advance(seconds=29)
    worker.run_once()
    with db.transaction() as s:
        (row,) = notify.messages_for(s, event_key="t:3:esc")
        assert row.attempts == 2 and row.state == "pending"  # second backoff is 30 s
    clock.advance(seconds=1)
    worker.run_once()
    with db.transaction() as s:
        (row,) = notify.messages_for(s, event_key="t:3:esc")
        assert row.state == "sent" and row.attempts == 3 and row.last_error is None
    assert row.id in flaky.delivered


def test_permanent_failure_is_not_retried(db, clock):
    flaky.permanent = True
    try:
        with db.transaction() as s:
            enqueue(s, event_key="t:4:x", template="escalated", recipients=[Recipient.account(9)],
                    clock=clock, channel=flaky.name)
        worker = worker_for(db, clock)
        worker.run_once()
        clock.advance(hours=2)
        worker.run_once()
    finally:
        flaky.permanent = False
    with db.transaction() as s:
        (row,) = notify.messages_for(s, event_key="t:4:x")
        assert row.state == "failed" and row.attempts == 1 and "40003" in row.last_error


def test_gives_up_after_max_attempts(db, clock):
    flaky.failures_left = 100
    try:
        with db.transaction() as s:
            enqueue(s, event_key="t:5:x", template="escalated", recipients=[Recipient.account(9)],
                    clock=clock, channel=flaky.name)
        worker = worker_for(db, clock)
        for _ in range(notify.MAX_ATTEMPTS + 2):
            worker.run_once()
            clock.advance(hours=1, seconds=1)
    finally:
        flaky.failures_left = 0
    with db.transaction() as s:
        (row,) = notify.messages_for(s, event_key="t:5:x")
        assert row.state == "failed" and row.attempts == notify.MAX_ATTEMPTS


def test_rolled_back_change_enqueues_nothing(db, clock):
    s = db.new_session()
    with s.begin():
        enqueue(s, event_key="t:6:x", template="t", recipients=[Recipient.account(1)], clock=clock)
        s.rollback()
    s.close()
    with db.transaction() as s2:
        assert notify.messages_for(s2, event_key="t:6:x") == []
    assert timedelta(0) == timedelta(0)
