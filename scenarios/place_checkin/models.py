"""Tables of place-checkin: places, the sentinels bound to them, and check-ins.

A check-in holds ids only (place, person) with how and when: no copy of personal data.
Check-ins are deleted after ``CHECKIN_RETENTION_DAYS`` (``scenarios.place_checkin.jobs``).
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, IdMixin, TimestampMixin, UTCDateTime
from scenarios.place_checkin.kinds import PLACE_KINDS

CHECKIN_VIA = ("resident_scan", "sentinel")


def _in(column: str, values) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class CheckinPlace(IdMixin, TimestampMixin, Base):
    """A place of an operator (the organisation that runs it), with a place code."""

    __tablename__ = "checkin_places"
    __table_args__ = (
        sa.CheckConstraint(_in("kind", PLACE_KINDS), name="kind_known"),
        sa.Index("ix_checkin_places_operator_kind", "operator_id", "kind"),
    )

    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    kind: Mapped[str] = mapped_column(sa.String(32))
    operator_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("organisations.id"))
    address: Mapped[str] = mapped_column(sa.String(200))
    lat: Mapped[float] = mapped_column(sa.Float)
    lon: Mapped[float] = mapped_column(sa.Float)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)

    @property
    def ref(self) -> str:
        """The reference its place code carries."""
        return place_ref(self.code)


def place_ref(code: str) -> str:
    return f"place:{code}"


class CheckinSentinel(Base):
    """A sentinel device (数字哨兵) stands at one place of its own organisation."""

    __tablename__ = "checkin_sentinels"

    device_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("devices.id"), primary_key=True)
    place_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("checkin_places.id"), index=True)
    bound_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Checkin(IdMixin, Base):
    __tablename__ = "checkins"
    __table_args__ = (
        sa.CheckConstraint(_in("via", CHECKIN_VIA), name="via_known"),
        sa.Index("ix_checkins_place_at", "place_id", "at"),
        sa.Index("ix_checkins_person_at", "person_id", "at"),
    )

    place_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("checkin_places.id"))
    person_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("persons.id"))
    via: Mapped[str] = mapped_column(sa.String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
