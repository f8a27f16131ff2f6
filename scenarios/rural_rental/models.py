"""rural-rental's own tables (columns it filters and joins on; everything else is the engines').

- ``rr_houses``: a landlord's house in a village (the committee of that village, and only it,
  inspects it); ``state`` ``registered`` until an inspection passes, then ``approved``.
- ``rr_rooms``: rooms with area, rent (fen) and occupancy limit; a room is the row a tenancy
  approval locks before counting who lives there.
- ``rr_inspections``: the committee's checklist, result and next inspection date.
- ``rr_tenancies``: a tenancy of a room for its tenants over a period (租前审批): ``pending`` until
  the committee approves its approval-engine application (``application_id``).
"""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, IdMixin, UTCDateTime

HOUSE_STATES = ("registered", "approved", "suspended")
TENANCY_STATES = ("pending", "approved", "rejected", "withdrawn", "ended")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class RrHouse(IdMixin, Base):
    __tablename__ = "rr_houses"
    __table_args__ = (
        sa.CheckConstraint(_in("state", HOUSE_STATES), name="state_known"),
        sa.UniqueConstraint("village_id", "house_number", name="uq_rr_houses_village_number"),
    )

    village_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("villages.id"), index=True)
    house_number: Mapped[int] = mapped_column(sa.Integer)
    landlord_account_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("accounts.id"), index=True)
    landlord_person_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("persons.id"))
    address: Mapped[str] = mapped_column(sa.String(200))
    lat: Mapped[float] = mapped_column(sa.Float)
    lon: Mapped[float] = mapped_column(sa.Float)
    state: Mapped[str] = mapped_column(sa.String(16), default="registered")
    green: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    next_inspection_on: Mapped[date | None] = mapped_column(sa.Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RrRoom(IdMixin, Base):
    __tablename__ = "rr_rooms"
    __table_args__ = (
        sa.CheckConstraint("area_m2 > 0", name="area_positive"),
        sa.CheckConstraint("rent_fen > 0", name="rent_positive"),
        sa.CheckConstraint("occupancy_limit >= 1", name="occupancy_positive"),
    )

    house_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("rr_houses.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(sa.String(20))
    area_m2: Mapped[float] = mapped_column(sa.Float)
    rent_fen: Mapped[int] = mapped_column(sa.BigInteger)
    occupancy_limit: Mapped[int] = mapped_column(sa.Integer)
    facilities: Mapped[list] = mapped_column(sa.JSON, default=list)
    listing_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("ls_entries.id"))


class RrInspection(IdMixin, Base):
    __tablename__ = "rr_inspections"

    house_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("rr_houses.id", ondelete="CASCADE"), index=True)
    committee_org_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("organisations.id"))
    inspector_account_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("accounts.id"))
    checklist: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    passed: Mapped[bool] = mapped_column(sa.Boolean)
    photos: Mapped[list] = mapped_column(sa.JSON, default=list)
    next_on: Mapped[date] = mapped_column(sa.Date)
    inspected_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RrTenancy(IdMixin, Base):
    __tablename__ = "rr_tenancies"
    __table_args__ = (
        sa.CheckConstraint(_in("state", TENANCY_STATES), name="state_known"),
        sa.CheckConstraint("ends_on > starts_on", name="period_ordered"),
        sa.CheckConstraint("persons >= 1", name="persons_positive"),
        sa.Index("ix_rr_tenancies_room_state", "room_id", "state", "starts_on", "ends_on"),
    )

    room_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("rr_rooms.id"))
    house_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("rr_houses.id"), index=True)
    village_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("villages.id"), index=True)
    tenant_person_ids: Mapped[list] = mapped_column(sa.JSON, default=list)
    persons: Mapped[int] = mapped_column(sa.Integer)
    starts_on: Mapped[date] = mapped_column(sa.Date)
    ends_on: Mapped[date] = mapped_column(sa.Date)
    state: Mapped[str] = mapped_column(sa.String(16), default="pending")
    application_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("ap_applications.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RrStay(IdMixin, Base):
    """One tenant's arrival (人来登记) and departure (人走注销) under a tenancy."""

    __tablename__ = "rr_stays"
    __table_args__ = (sa.UniqueConstraint("tenancy_id", "person_id", name="uq_rr_stays_tenancy_person"),)

    tenancy_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("rr_tenancies.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("persons.id"))
    arrived_at: Mapped[datetime] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    registered_by_account_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("accounts.id"))
    via: Mapped[str] = mapped_column(sa.String(16))


VIOLATION_KINDS = ("over_occupancy", "unregistered_tenant", "fire_hazard", "illegal_structure", "sanitation", "other")
VIOLATION_STATES = ("open", "closed")


class RrViolation(IdMixin, Base):
    """A violation the village committee found at a house (it costs the green card for 12 months)
    and follows up until it is closed."""

    __tablename__ = "rr_violations"
    __table_args__ = (
        sa.CheckConstraint(_in("kind", VIOLATION_KINDS), name="kind_known"),
        sa.CheckConstraint(_in("state", VIOLATION_STATES), name="state_known"),
        sa.Index("ix_rr_violations_house_found", "house_id", "found_on"),
        sa.Index("ix_rr_violations_village_state", "village_id", "state"),
    )

    house_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("rr_houses.id", ondelete="CASCADE"))
    village_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("villages.id"))
    kind: Mapped[str] = mapped_column(sa.String(24))
    note: Mapped[str] = mapped_column(sa.String(500))
    photos: Mapped[list] = mapped_column(sa.JSON, default=list)
    found_on: Mapped[date] = mapped_column(sa.Date)
    state: Mapped[str] = mapped_column(sa.String(16), default="open")
    recorded_by_account_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("accounts.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RrFollowUp(IdMixin, Base):
    """One step of a violation's follow-up (a visit, a rectification, the closing)."""

    __tablename__ = "rr_violation_follow_ups"
    __table_args__ = (sa.Index("ix_rr_violation_follow_ups_violation", "violation_id", "id"),)

    violation_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("rr_violations.id", ondelete="CASCADE"))
    note: Mapped[str] = mapped_column(sa.String(500))
    photos: Mapped[list] = mapped_column(sa.JSON, default=list)
    closes: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    account_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("accounts.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


REQUEST_STATES = ("pending", "accepted", "declined", "withdrawn")


class RrRentalRequest(IdMixin, Base):
    """A real-name verified tenant's application for a published room; the landlord accepts or
    declines it; an accepted one becomes the tenancy the landlord submits (``tenancy_id``)."""

    __tablename__ = "rr_rental_requests"
    __table_args__ = (
        sa.CheckConstraint(_in("state", REQUEST_STATES), name="state_known"),
        sa.CheckConstraint("ends_on > starts_on", name="period_ordered"),
        sa.CheckConstraint("persons >= 1", name="persons_positive"),
        sa.Index("ix_rr_rental_requests_landlord", "landlord_account_id", "state"),
        sa.Index("ix_rr_rental_requests_tenant", "tenant_account_id", "state"),
        sa.Index("ix_rr_rental_requests_room", "room_id", "tenant_person_id", "state"),
    )

    listing_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("ls_entries.id"))
    room_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("rr_rooms.id", ondelete="CASCADE"))
    house_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("rr_houses.id", ondelete="CASCADE"))
    landlord_account_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("accounts.id"))
    tenant_account_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("accounts.id"))
    tenant_person_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("persons.id"))
    persons: Mapped[int] = mapped_column(sa.Integer)
    starts_on: Mapped[date] = mapped_column(sa.Date)
    ends_on: Mapped[date] = mapped_column(sa.Date)
    message: Mapped[str] = mapped_column(sa.String(500), default="")
    state: Mapped[str] = mapped_column(sa.String(16), default="pending")
    reason: Mapped[str | None] = mapped_column(sa.String(200))
    tenancy_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("rr_tenancies.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
