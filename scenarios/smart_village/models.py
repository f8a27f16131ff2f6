"""smart-village's tables.

- ``sv_notices``: what a village committee publishes to its villagers: a notice (通知) or a
  village-affairs disclosure (村务公开: ``finance``, ``project``, ``decision``), with attachments
  (upload public ids); ``important`` ones ask each villager to confirm.
- ``sv_receipts``: a villager read (``read_at``) and confirmed (``confirmed_at``) a notice; one row
  per notice and account.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, IdMixin, UTCDateTime

KINDS = ("notice", "finance", "project", "decision")


class SvNotice(IdMixin, Base):
    __tablename__ = "sv_notices"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('notice', 'finance', 'project', 'decision')", name="kind_known"),
        sa.Index("ix_sv_notices_village", "village_id", "published_at"),
    )

    village_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("villages.id"))
    kind: Mapped[str] = mapped_column(sa.String(16))
    title: Mapped[str] = mapped_column(sa.String(100))
    body: Mapped[str] = mapped_column(sa.Text)
    attachments: Mapped[list] = mapped_column(sa.JSON, default=list)
    important: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_by_account_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("accounts.id"))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SvReceipt(IdMixin, Base):
    __tablename__ = "sv_receipts"
    __table_args__ = (sa.UniqueConstraint("notice_id", "account_id", name="uq_sv_receipts_notice_account"),)

    notice_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("sv_notices.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("accounts.id"))
    read_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
