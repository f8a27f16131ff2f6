"""The shared access token and the one-time subscription grants."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, IdMixin, UTCDateTime


class WechatAccessToken(Base):
    """One row per appid: the token every process uses, and the force-refresh budget.

    The token is a 2-hour credential of the mini-program; it never goes to logs. Its row is
    locked (PostgreSQL) or written under SQLite's single writer while one process refreshes.
    """

    __tablename__ = "wechat_access_tokens"
    __table_args__ = (sa.CheckConstraint("force_count >= 0", name="force_count_not_negative"),)

    appid: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    access_token: Mapped[str | None] = mapped_column(sa.String(1024))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(sa.Integer, default=0)
    force_day: Mapped[str | None] = mapped_column(sa.String(10))  # Beijing date of force_count
    force_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_force_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SubscriptionGrant(IdMixin, Base):
    """A resident accepted one subscription message of a template: one message may be sent.

    ``consumed_at`` is set when WeChat took the message (errcode 0) or refused it for lack of
    quota (43101); ``outbox_id`` names the outbox row that used it.
    """

    __tablename__ = "subscription_grants"
    __table_args__ = (
        sa.Index("ix_subscription_grants_open", "account_id", "template_id",
                 postgresql_where=sa.text("consumed_at IS NULL"), sqlite_where=sa.text("consumed_at IS NULL")),
    )

    account_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    template_id: Mapped[str] = mapped_column(sa.String(64))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outbox_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("notify_outbox.id", ondelete="SET NULL"))
