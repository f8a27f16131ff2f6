"""One row per moderated text or photo of a subject (any scenario's object)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, IdMixin, TimestampMixin, UTCDateTime

STATES = ("pending_review", "cleared", "rejected")
KINDS = ("text", "media")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class ModerationItem(IdMixin, TimestampMixin, Base):
    """``suggest`` is the machine's verdict (pass | review | risky | pending); ``decided_by``
    is the staff account that cleared or rejected it (None: decided by the machine)."""

    __tablename__ = "moderation_items"
    __table_args__ = (
        sa.CheckConstraint(_in("state", STATES), name="state_known"),
        sa.CheckConstraint(_in("kind", KINDS), name="kind_known"),
        sa.CheckConstraint("(kind = 'text' AND text IS NOT NULL) OR (kind = 'media' AND upload_id IS NOT NULL)",
                           name="content_present"),
        sa.Index("ix_moderation_items_subject", "subject_type", "subject_id"),
        sa.Index("ix_moderation_items_pending", "created_at",
                 postgresql_where=sa.text("state = 'pending_review'"),
                 sqlite_where=sa.text("state = 'pending_review'")),
        sa.Index("ix_moderation_items_trace_id", "trace_id", unique=True,
                 postgresql_where=sa.text("trace_id IS NOT NULL"), sqlite_where=sa.text("trace_id IS NOT NULL")),
    )

    subject_type: Mapped[str] = mapped_column(sa.String(60))
    subject_id: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(8))
    text: Mapped[str | None] = mapped_column(sa.Text)
    upload_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("uploads.id"))
    author_account_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("accounts.id"))
    state: Mapped[str] = mapped_column(sa.String(16), default="pending_review")
    provider: Mapped[str] = mapped_column(sa.String(16))
    suggest: Mapped[str] = mapped_column(sa.String(8))
    label: Mapped[str | None] = mapped_column(sa.String(40))
    reason: Mapped[str | None] = mapped_column(sa.String(300))
    trace_id: Mapped[str | None] = mapped_column(sa.String(128))
    decided_by: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("accounts.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
