"""Tables of the telemetry engine.

- ``tm_sources``: one row per (device, kind) of a scenario: the subject it reports on, its latest value
  (moved forward only by compare-and-set on the reading's timestamp), when it was last heard
  (server time) and when it falls silent (``silent_at``: heard + the kind's ``silent_after``),
  ``online``/``offline`` (compare-and-set both ways: the offline hook and the back-online hook
  run once each).
- ``tm_readings``: the history, appended; one row per (source, timestamp) — a duplicate is the
  same reading. ``hour`` (whole hours since the epoch) is what retention thins by.
- ``tm_alerts``: one row per episode of a rule (a threshold's name or ``silent``) on a source;
  at most one open per (source, rule) (a partial unique index), closed on recovery.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, IdMixin, UTCDateTime

STATUSES = ("online", "offline")
SOURCE = "tm_source"
ALERT = "tm_alert"
"""The visibility registry's names of a source and an alert."""


class TmSource(IdMixin, Base):
    __tablename__ = "tm_sources"
    __table_args__ = (
        sa.UniqueConstraint("device_id", "kind", "scenario", name="uq_tm_sources_device_kind"),
        sa.CheckConstraint("status IN ('online', 'offline')", name="status_known"),
        sa.Index("ix_tm_sources_subject", "scenario", "kind", "subject_type", "subject_id"),
        sa.Index("ix_tm_sources_org", "organisation_id", "scenario"),
        sa.Index("ix_tm_sources_silent", "status", "silent_at"),
    )

    scenario: Mapped[str] = mapped_column(sa.String(40))
    kind: Mapped[str] = mapped_column(sa.String(40))
    device_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("devices.id"))
    organisation_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("organisations.id"))
    subject_type: Mapped[str] = mapped_column(sa.String(40))
    subject_id: Mapped[int] = mapped_column(sa.BigInteger)
    latest_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    latest_value: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    heard_at: Mapped[datetime] = mapped_column(UTCDateTime)
    silent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(sa.String(16), default="online")
    offline_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    open_alerts: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    """How many of its alerts are open (kept with them): a reading holding no condition on a
    source with none open needs no look at ``tm_alerts``."""
    bound_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TmReading(IdMixin, Base):
    __tablename__ = "tm_readings"
    __table_args__ = (
        sa.UniqueConstraint("source_id", "at", name="uq_tm_readings_source_at"),
        sa.Index("ix_tm_readings_hour", "source_id", "hour"),
    )

    source_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("tm_sources.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    hour: Mapped[int] = mapped_column(sa.BigInteger)
    value: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TmAlert(IdMixin, Base):
    __tablename__ = "tm_alerts"
    __table_args__ = (
        sa.Index("uq_tm_alerts_open", "source_id", "rule", unique=True,
                 postgresql_where=sa.text("closed_at IS NULL"), sqlite_where=sa.text("closed_at IS NULL")),
        sa.Index("ix_tm_alerts_org", "organisation_id", "scenario", "closed_at"),
    )

    scenario: Mapped[str] = mapped_column(sa.String(40))
    source_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("tm_sources.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("organisations.id"))
    kind: Mapped[str] = mapped_column(sa.String(40))
    subject_type: Mapped[str] = mapped_column(sa.String(40))
    subject_id: Mapped[int] = mapped_column(sa.BigInteger)
    rule: Mapped[str] = mapped_column(sa.String(40))
    value: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
