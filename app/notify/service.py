"""Enqueue notifications in the caller's transaction; deliver them from the worker.

Each new outbox row gets a timer (``notify.deliver``) due at once, so delivery rides on the
worker's claim machinery: one worker delivers a row at a time, a crash before commit
retries it. Delivery is therefore at least once: a message whose answer was lost may be
sent again. Enqueueing is exactly once: the unique (event, recipient, channel) key and
``ON CONFLICT DO NOTHING`` make a repeated enqueue a no-op.

Channels: ``auto`` (the default of every workflow scenario) gives each recipient theirs at
enqueue time: staff WeCom, residents WeChat subscription messages.

Fallback: a channel may name a ``fallback`` channel (WeChat and WeCom name ``sms``). When an
*urgent* row ends ``no_grant`` or ``failed`` there — or its channel is unavailable (an outage,
a frequency limit: what would be retried later) — the same event is enqueued for the same
recipient on the fallback channel at once, in the same transaction, once by the unique key;
the urgent row is not retried (the person is told once, by SMS). A non-urgent row is retried
with backoff.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.clock import Clock
from app.db import fast_paths_apply
from app.notify.channels import CHANNELS, Outcome
from app.notify.models import OutboxMessage
from app.notify.templates import load_registry, registry_for
from app.privacy import consents
from app.timers import KEY_COLUMNS, Timer, schedule, timer_handler

log = logging.getLogger("app.notify")

DELIVER_KIND = "notify.deliver"
MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(seconds=15)
BACKOFF_MAX = timedelta(hours=1)
FALLBACK_STATES = ("no_grant", "failed")


@dataclass(frozen=True)
class Recipient:
    kind: str  # "account" | "org"
    id: int | str

    @classmethod
    def account(cls, account_id: int) -> Recipient:
        return cls("account", account_id)


@cache
def _statements(dialect: str) -> tuple[Any, Any]:
    """The outbox insert and its delivery timers' upsert, built once per dialect (escalations
    enqueue thousands per worker pass; building a statement costs more than running it)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = OutboxMessage.__table__
    outbox = insert(table).on_conflict_do_nothing().returning(table.c.id)
    upsert = insert(Timer.__table__)
    timers = upsert.on_conflict_do_update(index_elements=list(KEY_COLUMNS), set_={
        "due_at": upsert.excluded.due_at, "state": "pending", "attempts": 0, "last_error": None,
        "fired_at": None})
    return outbox, timers


@dataclass(frozen=True)
class Notice:
    """One event to enqueue for its recipients (``enqueue_many`` takes many at once)."""

    event_key: str
    template: str
    recipients: tuple[Recipient, ...]
    payload: dict[str, Any] | None = None
    channel: str = "log"
    urgent: bool = False


def enqueue(
    session: Session,
    *,
    event_key: str,
    template: str,
    recipients: Iterable[Recipient],
    clock: Clock,
    payload: dict[str, Any] | None = None,
    channel: str = "log",
    urgent: bool = False,
) -> int:
    """Add one row per recipient (skipping ones already enqueued). Returns how many were new."""
    return enqueue_many(session, [Notice(event_key, template, tuple(recipients), payload, channel, urgent)],
                        clock=clock)


AUTO = "auto"
"""The channel that reaches a person the way they are reached: staff by WeCom, residents by
their WeChat subscription messages (each falls back to SMS when the notice is urgent)."""
STAFF_CHANNEL, RESIDENT_CHANNEL = "wecom", "wechat"


def staff_channel(channel: str) -> str:
    """The channel a notice on ``channel`` takes to staff (``auto``: WeCom)."""
    return STAFF_CHANNEL if channel == AUTO else channel


def _resolve_auto(session: Session, rows: list[dict[str, Any]]) -> None:
    """``auto`` rows get their recipient's channel (one query for the accounts' kinds)."""
    ids = {int(r["recipient_id"]) for r in rows if r["channel"] == AUTO and r["recipient_kind"] == "account"}
    if not ids and not any(r["channel"] == AUTO for r in rows):
        return
    from auth.models import Account

    kinds = {row[0]: row[1] for row in session.execute(sa.select(Account.id, Account.kind).where(Account.id.in_(ids)))}
    for r in rows:
        if r["channel"] == AUTO:
            staff = r["recipient_kind"] != "account" or kinds.get(int(r["recipient_id"])) == "staff"
            r["channel"] = STAFF_CHANNEL if staff else RESIDENT_CHANNEL


def enqueue_many(session: Session, notices: Iterable[Notice], *, clock: Clock) -> int:
    """``enqueue`` for many events in two statements (the outbox rows, their delivery timers)
    however many events and recipients; on PostgreSQL one (``app.fastpath.enqueue_rows``).
    ``auto`` notices take each recipient's channel. Returns how many rows were new."""
    now = clock.now()
    rows = []
    for notice in notices:
        if notice.channel not in CHANNELS and notice.channel != AUTO:
            raise ValueError(f"unknown channel {notice.channel!r}")
        rows += [
            {"event_key": notice.event_key, "recipient_kind": r.kind, "recipient_id": str(r.id),
             "channel": notice.channel, "template": notice.template, "payload": notice.payload or {},
             "urgent": notice.urgent, "state": "pending", "attempts": 0, "created_at": now, "updated_at": now}
            for r in dict.fromkeys(notice.recipients)
        ]
    if not rows:
        return 0
    _resolve_auto(session, rows)
    if fast_paths_apply(session):
        from app.fastpath import enqueue_rows

        return enqueue_rows(session, rows, now)
    outbox, timers = _statements(session.get_bind().dialect.name)
    new_ids = list(session.execute(outbox, rows).scalars())
    if new_ids:
        session.execute(timers, [
            {"subject_type": "outbox", "subject_id": str(i), "kind": DELIVER_KIND, "level": 0, "due_at": now,
             "state": "pending", "attempts": 0, "created_at": now} for i in new_ids])
    return len(new_ids)


def _declined(session: Session, message: OutboxMessage) -> Outcome | None:
    """An optional notice (a reminder) to a person who withdrew ``service_notices``: skipped, read
    at delivery so a withdrawal stops what was queued before it. Never having answered is no
    withdrawal: reminders are what residents expect by default."""
    if message.recipient_kind != "account":
        return None
    registry = registry_for(current_app.extensions["settings"]) if has_app_context() else load_registry()
    template = registry.get(message.template)
    if template is None or not template.optional:
        return None
    from auth.models import Account

    person_id = session.scalar(sa.select(Account.person_id).where(Account.id == int(message.recipient_id)))
    if person_id is None or not consents.withdrawn(session, person_id, "service_notices"):
        return None
    return Outcome("skipped", "service_notices withdrawn")


@timer_handler(DELIVER_KIND, max_attempts=MAX_ATTEMPTS + 1)
def deliver(session: Session, timer: Timer, clock: Clock) -> None:
    message = session.get(OutboxMessage, int(timer.subject_id), with_for_update=True)
    if message is None or message.state != "pending":
        return
    channel = CHANNELS.get(message.channel)
    now = clock.now()
    message.attempts += 1
    try:
        outcome = _declined(session, message) or (channel.deliver(message) if channel else None)
    except Exception as exc:  # a channel bug or an outage the channel did not classify
        log.warning("notification channel raised", extra={"outbox_id": message.id, "error": type(exc).__name__})
        outcome = None
        detail = type(exc).__name__
    else:
        detail = outcome.detail if outcome else "no such channel"
    state = outcome.state if outcome else "retry"
    fallback = getattr(channel, "fallback", None)
    if state == "retry" and message.urgent and fallback in CHANNELS and fallback != message.channel:
        # Someone must be told now: the fallback at once, not this channel again in a while.
        state, detail = "failed", f"{detail}; fell back to {fallback}"
    if state == "retry" and message.attempts >= MAX_ATTEMPTS:
        state = "failed"
    message.last_error = None if state == "sent" else detail[:300] or None
    if state == "retry":
        delay = min(BACKOFF_BASE * 2 ** (message.attempts - 1), BACKOFF_MAX)
        schedule(session, subject_type="outbox", subject_id=message.id, kind=DELIVER_KIND, due_at=now + delay)
        return
    message.state = state
    if state == "sent":
        message.sent_at = now
    if message.urgent and state in FALLBACK_STATES and fallback in CHANNELS and fallback != message.channel:
        enqueue(session, event_key=message.event_key, template=message.template, clock=clock,
                recipients=[Recipient(message.recipient_kind, message.recipient_id)], payload=message.payload,
                channel=fallback, urgent=True)


def messages_for(session: Session, *, event_key: str) -> list[OutboxMessage]:
    return list(session.scalars(sa.select(OutboxMessage).where(OutboxMessage.event_key == event_key)
                                .order_by(OutboxMessage.id)))
