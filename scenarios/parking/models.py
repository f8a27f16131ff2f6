"""parking's own tables (what it filters and joins on; reservations' capacity is the booking engine's).

- ``pk_lots``: a car park of an operator: capacity, tariff (data), location, pilot mark, the
  operator's rules (no recorded entry; payment failing at the barrier), the latest occupancy its
  device reported (``occupied``, ``occupancy_at``: older than ``silence_seconds`` shows unknown)
  and the booking engine resource its reservations take places of.
- ``pk_spaces``: numbered spaces of a shared car park that contracts are signed for.
- ``pk_projects``: 错峰共享 projects: a car park's spaces shared at set hours for a monthly fee.
- ``pk_contracts``: a resident's monthly contract for a space's hours; never two on one space
  whose hours meet (the space row is locked, then overlap is checked).
- ``pk_vehicles``: a resident's plates (encrypted, keyed lookup hash, masked for others).
- ``pk_reservations``: a booking engine booking of a lot's arrival window, with its plate.
- ``pk_stays``: an entry and its exit (plate encrypted), the fee and how it was settled.
- ``pk_debts``: fees the barrier let go unpaid, collected later.
"""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, IdMixin, UTCDateTime
from auth.pii import EncryptedText
from scenarios.parking.plates import COLOURS, PURPOSE

PILOTS = ("hospital", "commercial", "transport_hub")
LOT_KINDS = ("public", "shared")
NO_ENTRY_RULES = ("flat_fee", "staff")
CONTRACT_STATES = ("active", "cancelled")
STAY_STATES = ("inside", "paid", "free", "debt", "pending_staff")
DEBT_STATES = ("open", "paid", "waived")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class PkLot(IdMixin, Base):
    __tablename__ = "pk_lots"
    __table_args__ = (
        sa.CheckConstraint("capacity > 0", name="capacity_positive"),
        sa.CheckConstraint("reservable >= 0 AND reservable <= capacity", name="reservable_within"),
        sa.CheckConstraint("occupied IS NULL OR (occupied >= 0 AND occupied <= capacity)", name="occupied_within"),
        sa.CheckConstraint(_in("kind", LOT_KINDS), name="kind_known"),
        sa.CheckConstraint(f"pilot IS NULL OR {_in('pilot', PILOTS)}", name="pilot_known"),
        sa.CheckConstraint(_in("no_entry_rule", NO_ENTRY_RULES), name="no_entry_rule_known"),
        sa.Index("ix_pk_lots_lat_lon", "lat", "lon"),
    )

    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    operator_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("organisations.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16), default="public")
    address: Mapped[str] = mapped_column(sa.String(200))
    lat: Mapped[float] = mapped_column(sa.Float)
    lon: Mapped[float] = mapped_column(sa.Float)
    capacity: Mapped[int] = mapped_column(sa.Integer)
    reservable: Mapped[int] = mapped_column(sa.Integer, default=0)
    tariff: Mapped[dict] = mapped_column(sa.JSON)
    e_payment: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    pilot: Mapped[str | None] = mapped_column(sa.String(16))
    no_entry_rule: Mapped[str] = mapped_column(sa.String(16), default="flat_fee")
    no_entry_fee_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    open_on_payment_failure: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    silence_seconds: Mapped[int] = mapped_column(sa.Integer, default=300)
    occupied: Mapped[int | None] = mapped_column(sa.Integer)
    occupancy_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resource_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("bk_resources.id"))
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PkSpace(IdMixin, Base):
    __tablename__ = "pk_spaces"
    __table_args__ = (sa.UniqueConstraint("lot_id", "label", name="uq_pk_spaces_lot_label"),)

    lot_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("pk_lots.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(sa.String(20))
    project_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("pk_projects.id"), index=True)


class PkProject(IdMixin, Base):
    __tablename__ = "pk_projects"
    __table_args__ = (
        sa.CheckConstraint("start_minute BETWEEN 0 AND 1439 AND end_minute BETWEEN 0 AND 1439", name="minutes_range"),
        sa.CheckConstraint("start_minute <> end_minute", name="window_not_empty"),
        sa.CheckConstraint("monthly_fee_fen >= 0", name="fee_non_negative"),
    )

    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    lot_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("pk_lots.id"), index=True)
    start_minute: Mapped[int] = mapped_column(sa.Integer)
    end_minute: Mapped[int] = mapped_column(sa.Integer)
    monthly_fee_fen: Mapped[int] = mapped_column(sa.BigInteger)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)


class PkVehicle(IdMixin, Base):
    __tablename__ = "pk_vehicles"
    __table_args__ = (
        sa.UniqueConstraint("account_id", "plate_hash", name="uq_pk_vehicles_account_plate"),
        sa.CheckConstraint(_in("colour", COLOURS), name="colour_known"),
    )

    account_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("accounts.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("persons.id"), index=True)
    plate: Mapped[str] = mapped_column(EncryptedText(PURPOSE), info={"lookup_hash": "plate_hash"})
    plate_hash: Mapped[str] = mapped_column(sa.String(64), index=True)
    colour: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PkContract(IdMixin, Base):
    __tablename__ = "pk_contracts"
    __table_args__ = (
        sa.CheckConstraint(_in("status", CONTRACT_STATES), name="status_known"),
        sa.CheckConstraint("ends_on >= starts_on", name="period_ordered"),
        sa.Index("ix_pk_contracts_space_status", "space_id", "status", "starts_on", "ends_on"),
        sa.Index("ix_pk_contracts_vehicle", "vehicle_id", "status"),
    )

    project_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("pk_projects.id"))
    space_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("pk_spaces.id"))
    lot_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("pk_lots.id"), index=True)
    person_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("persons.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("accounts.id", ondelete="SET NULL"))
    vehicle_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("pk_vehicles.id"))
    starts_on: Mapped[date] = mapped_column(sa.Date)
    ends_on: Mapped[date] = mapped_column(sa.Date)
    start_minute: Mapped[int] = mapped_column(sa.Integer)
    end_minute: Mapped[int] = mapped_column(sa.Integer)
    fee_fen: Mapped[int] = mapped_column(sa.BigInteger)
    status: Mapped[str] = mapped_column(sa.String(16), default="active")
    payment_id: Mapped[int | None] = mapped_column(BigId)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PkReservation(IdMixin, Base):
    __tablename__ = "pk_reservations"

    booking_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("bk_bookings.id"), unique=True)
    lot_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("pk_lots.id"), index=True)
    vehicle_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("pk_vehicles.id"), index=True)
    arrive_from: Mapped[datetime] = mapped_column(UTCDateTime)
    held_until: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


_INSIDE = sa.text("status = 'inside'")


class PkStay(IdMixin, Base):
    """One car's time in a car park: entry (or none recorded), exit, fee, settlement."""

    __tablename__ = "pk_stays"
    __table_args__ = (
        sa.CheckConstraint(_in("status", STAY_STATES), name="status_known"),
        sa.CheckConstraint("fee_fen IS NULL OR fee_fen >= 0", name="fee_non_negative"),
        sa.Index("uq_pk_stays_inside", "lot_id", "plate_hash", unique=True,
                 postgresql_where=_INSIDE, sqlite_where=_INSIDE),
        sa.Index("ix_pk_stays_lot_exited", "lot_id", "exited_at"),
        sa.Index("ix_pk_stays_entered", "entered_at"),
    )

    lot_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("pk_lots.id"))
    plate: Mapped[str] = mapped_column(EncryptedText(PURPOSE), info={"lookup_hash": "plate_hash"})
    plate_hash: Mapped[str] = mapped_column(sa.String(64), index=True)
    colour: Mapped[str] = mapped_column(sa.String(16))
    entered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    exited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    entry_device_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("devices.id", ondelete="SET NULL"))
    exit_device_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("devices.id", ondelete="SET NULL"))
    reservation_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("pk_reservations.id"))
    fee_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    paid_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(sa.String(16), default="inside")
    settled_by: Mapped[str | None] = mapped_column(sa.String(24))
    payment_id: Mapped[int | None] = mapped_column(BigId)
    wx_parking_id: Mapped[str | None] = mapped_column(sa.String(64))
    """WeChat Pay's parking id from the entry notice (无感支付: the deduction at the exit cites it)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PkDebt(IdMixin, Base):
    __tablename__ = "pk_debts"
    __table_args__ = (
        sa.CheckConstraint(_in("status", DEBT_STATES), name="status_known"),
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.Index("ix_pk_debts_plate_status", "plate_hash", "status"),
    )

    stay_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("pk_stays.id"), unique=True)
    lot_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("pk_lots.id"), index=True)
    plate_hash: Mapped[str] = mapped_column(sa.String(64))
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)
    reason: Mapped[str] = mapped_column(sa.String(40))
    status: Mapped[str] = mapped_column(sa.String(16), default="open")
    payment_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
