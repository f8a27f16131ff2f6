"""Residential communities, buildings, villages and who manages each community when.

Rooms are not rows: a building declares its floors and rooms per floor, and a room number
such as ``1203`` (floor 12, room 03) is valid when it fits them. 252 communities of a few
thousand rooms each would otherwise be a million rows nobody reads.
"""
from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, BigId, IdMixin, TimestampMixin
from auth.organisations import Organisation


class Community(IdMixin, TimestampMixin, Base):
    """A residential community (小区)."""

    __tablename__ = "communities"

    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200), index=True)
    town_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("organisations.id"), index=True)
    committee_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("organisations.id"))
    fallback_owner_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("organisations.id"))
    address: Mapped[str] = mapped_column(sa.String(300))
    lat: Mapped[float] = mapped_column(sa.Float)
    lon: Mapped[float] = mapped_column(sa.Float)
    households: Mapped[int | None] = mapped_column(sa.Integer)
    generated: Mapped[bool] = mapped_column(sa.Boolean, default=False)

    town: Mapped[Organisation] = relationship(foreign_keys=[town_id])
    committee: Mapped[Organisation | None] = relationship(foreign_keys=[committee_id])
    fallback_owner: Mapped[Organisation] = relationship(foreign_keys=[fallback_owner_id])
    buildings: Mapped[list[Building]] = relationship(back_populates="community", order_by="Building.number")


class Building(IdMixin, Base):
    __tablename__ = "buildings"
    __table_args__ = (
        sa.UniqueConstraint("community_id", "number"),
        sa.CheckConstraint("floors > 0 AND rooms_per_floor > 0", name="sizes_positive"),
    )

    community_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("communities.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(sa.String(20))  # "3" for 3号楼
    floors: Mapped[int] = mapped_column(sa.Integer)
    rooms_per_floor: Mapped[int] = mapped_column(sa.Integer)

    community: Mapped[Community] = relationship(back_populates="buildings")

    def has_room(self, room: str) -> bool:
        """``room`` is floor then a two-digit index: ``302`` or ``1203``."""
        if not room.isdigit() or not 3 <= len(room) <= 4:
            return False
        floor, index = int(room[:-2]), int(room[-2:])
        return 1 <= floor <= self.floors and 1 <= index <= self.rooms_per_floor


class ManagementAssignment(IdMixin, TimestampMixin, Base):
    """Which property company manages a community, from a date to a date (exclusive)."""

    __tablename__ = "management_assignments"
    __table_args__ = (
        sa.CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="dates_ordered"),
        sa.Index("ix_management_assignments_community_from", "community_id", "valid_from"),
    )

    community_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("communities.id", ondelete="CASCADE"))
    company_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("organisations.id"), index=True)
    valid_from: Mapped[date] = mapped_column(sa.Date)
    valid_to: Mapped[date | None] = mapped_column(sa.Date)

    community: Mapped[Community] = relationship()
    company: Mapped[Organisation] = relationship()


class Village(IdMixin, TimestampMixin, Base):
    """A village (村) with its committee; houses are numbered 1..house_count."""

    __tablename__ = "villages"

    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200), index=True)
    town_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("organisations.id"), index=True)
    committee_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("organisations.id"), unique=True)
    lat: Mapped[float] = mapped_column(sa.Float)
    lon: Mapped[float] = mapped_column(sa.Float)
    house_count: Mapped[int] = mapped_column(sa.Integer)
    demonstration: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    generated: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    attributes: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)

    town: Mapped[Organisation] = relationship(foreign_keys=[town_id])
    committee: Mapped[Organisation] = relationship(foreign_keys=[committee_id])

    def has_house(self, number: int) -> bool:
        return 1 <= number <= self.house_count
