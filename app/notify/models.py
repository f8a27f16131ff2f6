"""One outbox row per (event, recipient, channel), written in the transaction of the change."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin, UTCDateTime

STATES = ("pending", "sent", "failed", "no_grant", "skipped")


class OutboxMessage(IdMixin, TimestampMixin, Base):
    __tablename__ = "notify_outbox"
    __table_args__ = (
        sa.UniqueConstraint("event_key", "recipient_kind", "recipient_id", "channel"),
        sa.CheckConstraint("state IN ('pending', 'sent', 'failed', 'no_grant', 'skipped')", name="state_known"),
        sa.Index("ix_notify_outbox_recipient", "recipient_kind", "recipient_id"),
    )

    event_key: Mapped[str] = mapped_column(sa.String(160))
    recipient_kind: Mapped[str] = mapped_column(sa.String(20))  # account | org
    recipient_id: Mapped[str] = mapped_column(sa.String(64))
    channel: Mapped[str] = mapped_column(sa.String(20))
    template: Mapped[str] = mapped_column(sa.String(80))
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    urgent: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    state: Mapped[str] = mapped_column(sa.String(16), default="pending")
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(300))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
