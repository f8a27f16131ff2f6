"""road-report's own tables: the roads (with their chief) and the public road notices.

A road is a polyline of a few WGS84 points (``points``: ``[[lat, lon], …]``) with its bounding
box in columns, so "the nearest road to a point" prefilters in SQL and measures in Python.
Its chief is a staff membership (role ``road_chief``, in 区交通委 or a town): reports on the
road are assigned to that account.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, IdMixin, TimestampMixin, UTCDateTime

NOTICE_KINDS = ("closure", "works", "detour")


class Road(IdMixin, TimestampMixin, Base):
    __tablename__ = "roads"
    __table_args__ = (
        sa.CheckConstraint("min_lat <= max_lat AND min_lon <= max_lon", name="bbox_ordered"),
        sa.Index("ix_roads_bbox", "min_lat", "max_lat", "min_lon", "max_lon"),
    )

    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    town_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("organisations.id"))
    chief_membership_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("memberships.id"))
    points: Mapped[list[Any]] = mapped_column(sa.JSON)
    min_lat: Mapped[float] = mapped_column(sa.Float)
    min_lon: Mapped[float] = mapped_column(sa.Float)
    max_lat: Mapped[float] = mapped_column(sa.Float)
    max_lon: Mapped[float] = mapped_column(sa.Float)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)

    def set_points(self, points: list[tuple[float, float]]) -> None:
        self.points = [[round(lat, 6), round(lon, 6)] for lat, lon in points]
        lats, lons = [p[0] for p in points], [p[1] for p in points]
        self.min_lat, self.max_lat, self.min_lon, self.max_lon = min(lats), max(lats), min(lons), max(lons)


class RoadNotice(IdMixin, TimestampMixin, Base):
    """A closure, works or detour on a road, from a date to a date (Beijing, inclusive)."""

    __tablename__ = "road_notices"
    __table_args__ = (
        sa.CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in NOTICE_KINDS) + ")", name="kind_known"),
        sa.CheckConstraint("ends_on >= starts_on", name="dates_ordered"),
        sa.Index("ix_road_notices_road_ends", "road_id", "ends_on"),
        sa.Index("ix_road_notices_ends", "ends_on"),
    )

    road_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("roads.id"))
    kind: Mapped[str] = mapped_column(sa.String(16))
    text: Mapped[str] = mapped_column(sa.String(500))
    starts_on: Mapped[date] = mapped_column(sa.Date)
    ends_on: Mapped[date] = mapped_column(sa.Date)
    org_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("organisations.id"))
    created_by_account_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("accounts.id"))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
