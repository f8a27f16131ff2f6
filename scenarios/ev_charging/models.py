"""Tables of ev-charging: the piles (a booking resource each, with what a driver filters on) and
the charging sessions.

- ``ev_piles``: one per pile; ``resource_id`` is its booking-engine resource (reserved as a whole
  unit for a 30-minute arrival window), ``device_id`` the identity device that reports its status
  and energy through the telemetry engine. ``status``/``status_at`` mirror the latest status
  reading (written by the telemetry hook in the reading's transaction); a pile whose latest
  reading is older than ``SILENT_AFTER`` is shown ``unknown`` whatever the mirror says, so a
  silent pile is never "free", with or without the worker. Tariff: fen per kWh for energy and
  for service, and optional time-of-use bands (``tou``: ``[{from_minute, to_minute,
  energy_fen_per_kwh}]``, Beijing time) that override the energy price inside them.
- ``ev_sessions``: a person charging at a pile, started by the pile's device (the reserved car
  plugged in) or by the resident scanning the pile's place code, stopped by either. Energy is
  kept in Wh (integers) with the fee accrued per reading in milli-fen at the band in force when
  it was delivered; on stop the fee (fen, rounded half up) is charged through the ledger. One
  open session per pile (a partial unique index on both databases).
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, IdMixin, UTCDateTime

PILE_STATES = ("free", "charging", "fault", "offline")
CONNECTORS = ("gb_ac", "gb_dc")
"""GB/T 20234.2 AC (慢充) and GB/T 20234.3 DC (快充)."""
SESSION_STATES = ("charging", "stopped", "paid")
STARTED_VIA = ("device", "place_code")
SILENT_AFTER = timedelta(minutes=2)
"""A pile reports its status at least every 30 s; after this without a reading it is unknown."""
SESSION_SUBJECT = "ev_session"
"""The visibility registry's and the ledger's name of a session."""

_OPEN = sa.text("status = 'charging'")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class EvPile(IdMixin, Base):
    __tablename__ = "ev_piles"
    __table_args__ = (
        sa.CheckConstraint(_in("status", PILE_STATES), name="status_known"),
        sa.CheckConstraint(_in("connector", CONNECTORS), name="connector_known"),
        sa.CheckConstraint("power_kw > 0 AND energy_fen_per_kwh >= 0 AND service_fen_per_kwh >= 0",
                           name="tariff_non_negative"),
        sa.Index("ix_ev_piles_lat_lon", "lat", "lon"),
        sa.Index("ix_ev_piles_operator", "operator_org_id"),
    )

    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    resource_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("bk_resources.id"), unique=True)
    operator_org_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("organisations.id"))
    device_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("devices.id", ondelete="SET NULL"),
                                                  unique=True)
    station: Mapped[str] = mapped_column(sa.String(100))
    name: Mapped[str] = mapped_column(sa.String(100))
    address: Mapped[str] = mapped_column(sa.String(200))
    lat: Mapped[float] = mapped_column(sa.Float)
    lon: Mapped[float] = mapped_column(sa.Float)
    power_kw: Mapped[int] = mapped_column(sa.Integer)
    connector: Mapped[str] = mapped_column(sa.String(8))
    energy_fen_per_kwh: Mapped[int] = mapped_column(sa.Integer)
    service_fen_per_kwh: Mapped[int] = mapped_column(sa.Integer)
    tou: Mapped[list] = mapped_column(sa.JSON, default=list)
    status: Mapped[str] = mapped_column(sa.String(16), default="offline")
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)


class EvSession(IdMixin, Base):
    __tablename__ = "ev_sessions"
    __table_args__ = (
        sa.CheckConstraint(_in("status", SESSION_STATES), name="status_known"),
        sa.CheckConstraint(_in("started_via", STARTED_VIA), name="via_known"),
        sa.CheckConstraint("energy_wh >= 0 AND fee_milli_fen >= 0", name="amounts_non_negative"),
        sa.CheckConstraint("status = 'charging' OR stopped_at IS NOT NULL", name="stopped_has_time"),
        sa.Index("uq_ev_sessions_open_pile", "pile_id", unique=True, postgresql_where=_OPEN, sqlite_where=_OPEN),
        sa.Index("ix_ev_sessions_person", "person_id", "started_at"),
        sa.Index("ix_ev_sessions_operator_started", "operator_org_id", "started_at"),
    )

    pile_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("ev_piles.id"))
    operator_org_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("organisations.id"))
    person_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("persons.id"))
    account_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("accounts.id", ondelete="SET NULL"))
    booking_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("bk_bookings.id"))
    status: Mapped[str] = mapped_column(sa.String(16), default="charging")
    started_via: Mapped[str] = mapped_column(sa.String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stop_reason: Mapped[str | None] = mapped_column(sa.String(40))
    energy_wh: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    energy_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the device last reported the energy delivered (a reading stamped earlier adds none)."""
    fee_milli_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    """Energy and service fee accrued so far, in thousandths of a fen (rounded once, at stop)."""
    fee_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    payment_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("lg_payment_intents.id"))
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
