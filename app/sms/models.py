"""Every text message a provider accepted; the ``record`` provider's only effect."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, IdMixin, UTCDateTime
from auth import pii


class SmsMessage(IdMixin, Base):
    """The number is encrypted (``pii``) with a masked copy for lists; params may name a
    ticket but never carry a phone or ID number (templates decide what goes in)."""

    __tablename__ = "sms_messages"
    __table_args__ = (sa.Index("ix_sms_messages_created_at", "created_at"),)

    provider: Mapped[str] = mapped_column(sa.String(20))
    outbox_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("notify_outbox.id", ondelete="SET NULL"),
                                                  index=True)
    to: Mapped[str] = mapped_column(pii.EncryptedText("sms.to"), deferred=True)  # decrypted only when read
    to_masked: Mapped[str] = mapped_column(sa.String(20))
    template: Mapped[str] = mapped_column(sa.String(64))
    params: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    provider_ref: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
