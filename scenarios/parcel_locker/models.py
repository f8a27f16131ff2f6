"""Tables of parcel-locker: lockers (a device of a locker operator at a community), their
cells, the parcels stored in them and each parcel's trail.

A cell holds at most one stored parcel: the partial unique index ``uq_pl_parcels_cell_stored``
(``status = 'stored'``) is the last word, whatever the service checked before. The recipient
is a phone number, encrypted, with its keyed hash for lookups; it is never shown in full.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, IdMixin, UTCDateTime
from auth import pii

CELL_SIZES = ("S", "M", "L", "XL")
STATUSES = ("stored", "picked_up", "retrieved")
STORED = "stored"
EVENTS = ("stored", "proxy_named", "reminded", "operator_told", "picked_up", "retrieved")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class Locker(IdMixin, Base):
    """A parcel locker (智能快件箱): one device (kind ``locker``) of its operator, at a community."""

    __tablename__ = "pl_lockers"

    device_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("devices.id"), unique=True)
    operator_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("organisations.id"), index=True)
    community_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("communities.id"))
    name: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Cell(IdMixin, Base):
    __tablename__ = "pl_cells"
    __table_args__ = (
        sa.CheckConstraint(_in("size", CELL_SIZES), name="size_known"),
        sa.UniqueConstraint("locker_id", "label"),
    )

    locker_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("pl_lockers.id"))
    label: Mapped[str] = mapped_column(sa.String(8))
    size: Mapped[str] = mapped_column(sa.String(2))


class Parcel(IdMixin, Base):
    __tablename__ = "pl_parcels"
    __table_args__ = (
        sa.CheckConstraint(_in("status", STATUSES), name="status_known"),
        sa.Index("uq_pl_parcels_cell_stored", "cell_id", unique=True,
                 postgresql_where=sa.text("status = 'stored'"), sqlite_where=sa.text("status = 'stored'")),
        sa.Index("ix_pl_parcels_operator_status", "operator_id", "status", "stored_at"),
    )

    cell_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("pl_cells.id"))
    locker_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("pl_lockers.id"))
    operator_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("organisations.id"))
    tracking_no: Mapped[str] = mapped_column(sa.String(40))
    courier: Mapped[str | None] = mapped_column(sa.String(40))
    recipient_phone: Mapped[str] = mapped_column(pii.EncryptedText("parcel_locker.recipient_phone"),
                                                 info={"lookup_hash": "recipient_phone_hash"})
    recipient_phone_hash: Mapped[str] = mapped_column(sa.String(64), index=True)
    proxy_person_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("persons.id"), index=True)
    pass_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("qr_passes.id"))
    status: Mapped[str] = mapped_column(sa.String(12))
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime)
    picked_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retrieved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ParcelEvent(IdMixin, Base):
    """One step of a parcel's trail: who (a device, staff, a resident, the system), what, when."""

    __tablename__ = "pl_parcel_events"
    __table_args__ = (sa.CheckConstraint(_in("action", EVENTS), name="action_known"),)

    parcel_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("pl_parcels.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(sa.String(16))
    actor: Mapped[str] = mapped_column(sa.String(16))  # device | staff | resident | system
    detail: Mapped[str | None] = mapped_column(sa.String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
