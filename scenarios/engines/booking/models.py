"""Tables of the booking engine.

- ``bk_resources``: what is booked (a court, a class, a doctor's clinic), owned by an
  organisation, at a place; ``kind`` ``capacity`` (places in a class: a booking takes as many
  places as people) or ``unit`` (a whole court: a booking takes the slot's one unit and admits
  up to its party).
- ``bk_opening_rules``: weekly hours, cut into slots of ``slot_minutes``; the resource's
  ``calendar`` says how the platform calendar (``app.calendar``) applies.
- ``bk_slots``: one per resource and start, with ``capacity`` and the counters ``booked`` and
  ``held`` (live holds). The counters only move by conditional updates (capacity.py); the
  check constraint ``booked + held <= capacity`` is the database's last word.
- ``bk_bookings``: for a person (the booker or someone they act for); ``units`` is what it takes
  of the slot, ``places`` how many people its pass admits. A hold lives until
  ``hold_expires_at``; every state change is a compare-and-set on the expected status. A whole
  unit is held by one live booking at most (a partial unique index, on both databases).
  A booking of a priced resource (``price_fen``) carries its ``payment_id``.
- ``bk_waitlist``: people waiting for a full slot; a freed place is offered as a timed hold.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, IdMixin, UTCDateTime

RESOURCE_KINDS = ("capacity", "unit")
CALENDARS = ("every_day", "closed_on_holidays", "working_days")
SLOT_STATES = ("open", "closed")
BOOKING_STATES = ("held", "confirmed", "checked_in", "cancelled", "expired", "no_show")
LIVE_STATES = ("held", "confirmed", "checked_in")
WAITLIST_STATES = ("waiting", "offered", "booked", "expired", "cancelled")
SUBJECT = "bk_booking"
"""The timers' and visibility registry's name of a booking."""


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


_LIVE_UNIT = sa.text("whole_unit AND status IN ('held', 'confirmed', 'checked_in')")


class BkResource(IdMixin, Base):
    __tablename__ = "bk_resources"
    __table_args__ = (
        sa.CheckConstraint(_in("kind", RESOURCE_KINDS), name="kind_known"),
        sa.CheckConstraint(_in("calendar", CALENDARS), name="calendar_known"),
        sa.CheckConstraint("capacity >= 1", name="capacity_positive"),
        sa.CheckConstraint("slot_minutes BETWEEN 5 AND 1440", name="slot_minutes_range"),
        sa.CheckConstraint("price_fen IS NULL OR price_fen > 0", name="price_positive"),
        sa.Index("ix_bk_resources_scenario_owner", "scenario", "owner_org_id"),
    )

    scenario: Mapped[str] = mapped_column(sa.String(40))
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    kind: Mapped[str] = mapped_column(sa.String(16))
    owner_org_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("organisations.id"))
    address: Mapped[str] = mapped_column(sa.String(200))
    lat: Mapped[float | None] = mapped_column(sa.Float)
    lon: Mapped[float | None] = mapped_column(sa.Float)
    capacity: Mapped[int] = mapped_column(sa.Integer)
    slot_minutes: Mapped[int] = mapped_column(sa.Integer, default=60)
    calendar: Mapped[str] = mapped_column(sa.String(24), default="every_day")
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    attributes: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    price_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    """Fen per slot (per place of a ``capacity`` resource); None: free. A priced booking is a
    hold until paid through the ledger (payment.py)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BkOpeningRule(IdMixin, Base):
    """Open on ``weekday`` (0 = Monday) from ``opens_minute`` to ``closes_minute`` (Beijing time)."""

    __tablename__ = "bk_opening_rules"
    __table_args__ = (
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        sa.CheckConstraint("opens_minute >= 0 AND closes_minute <= 1440 AND opens_minute < closes_minute",
                           name="hours_ordered"),
    )

    resource_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("bk_resources.id", ondelete="CASCADE"),
                                             index=True)
    weekday: Mapped[int] = mapped_column(sa.Integer)
    opens_minute: Mapped[int] = mapped_column(sa.Integer)
    closes_minute: Mapped[int] = mapped_column(sa.Integer)
    label: Mapped[str | None] = mapped_column(sa.String(60))


class BkSlot(IdMixin, Base):
    __tablename__ = "bk_slots"
    __table_args__ = (
        sa.UniqueConstraint("resource_id", "starts_at", name="uq_bk_slots_resource_start"),
        sa.CheckConstraint(_in("status", SLOT_STATES), name="status_known"),
        sa.CheckConstraint("booked >= 0 AND held >= 0", name="counters_non_negative"),
        sa.CheckConstraint("booked + held <= capacity", name="within_capacity"),
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        sa.Index("ix_bk_slots_scenario_start", "scenario", "starts_at"),
    )

    resource_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("bk_resources.id", ondelete="CASCADE"))
    scenario: Mapped[str] = mapped_column(sa.String(40))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int] = mapped_column(sa.Integer)
    booked: Mapped[int] = mapped_column(sa.Integer, default=0)
    held: Mapped[int] = mapped_column(sa.Integer, default=0)
    status: Mapped[str] = mapped_column(sa.String(16), default="open")
    label: Mapped[str | None] = mapped_column(sa.String(60))


class BkBooking(IdMixin, Base):
    __tablename__ = "bk_bookings"
    __table_args__ = (
        sa.CheckConstraint(_in("status", BOOKING_STATES), name="status_known"),
        sa.CheckConstraint("units >= 1 AND places >= 1", name="sizes_positive"),
        sa.CheckConstraint("checked_in >= 0 AND checked_in <= places", name="checked_in_range"),
        sa.CheckConstraint("status <> 'held' OR hold_expires_at IS NOT NULL", name="hold_has_expiry"),
        sa.Index("ix_bk_bookings_slot_status", "slot_id", "status"),
        sa.Index("ix_bk_bookings_person_status", "person_id", "status"),
        sa.Index("ix_bk_bookings_booker", "booker_person_id"),
        sa.Index("uq_bk_bookings_live_unit", "slot_id", unique=True,
                 postgresql_where=_LIVE_UNIT, sqlite_where=_LIVE_UNIT),
    )

    scenario: Mapped[str] = mapped_column(sa.String(40))
    resource_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("bk_resources.id"))
    slot_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("bk_slots.id"))
    person_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("persons.id"))
    booker_person_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("persons.id"))
    booker_account_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("accounts.id", ondelete="SET NULL"))
    units: Mapped[int] = mapped_column(sa.Integer)
    places: Mapped[int] = mapped_column(sa.Integer)
    whole_unit: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    status: Mapped[str] = mapped_column(sa.String(16))
    hold_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_in: Mapped[int] = mapped_column(sa.Integer, default=0)
    pass_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("qr_passes.id"))
    payment_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("lg_payment_intents.id"))
    """The ledger's payment intent of a priced booking (paying it confirms the hold)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(sa.String(200))

    @property
    def ref(self) -> str:
        return booking_ref(self.id)


def booking_ref(booking_id: int) -> str:
    """The reference a booking's pass carries."""
    return f"booking:{booking_id}"


class BkWaitlistEntry(IdMixin, Base):
    __tablename__ = "bk_waitlist"
    __table_args__ = (
        sa.CheckConstraint(_in("status", WAITLIST_STATES), name="status_known"),
        sa.CheckConstraint("units >= 1 AND places >= 1", name="sizes_positive"),
        sa.Index("ix_bk_waitlist_slot_status", "slot_id", "status", "id"),
        sa.Index("uq_bk_waitlist_waiting", "slot_id", "person_id", unique=True,
                 postgresql_where=sa.text("status IN ('waiting', 'offered')"),
                 sqlite_where=sa.text("status IN ('waiting', 'offered')")),
    )

    slot_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("bk_slots.id"))
    person_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("persons.id"))
    booker_person_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("persons.id"))
    booker_account_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("accounts.id", ondelete="SET NULL"))
    units: Mapped[int] = mapped_column(sa.Integer)
    places: Mapped[int] = mapped_column(sa.Integer)
    status: Mapped[str] = mapped_column(sa.String(16), default="waiting")
    booking_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("bk_bookings.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
