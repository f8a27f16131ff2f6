"""elderly-sos's own tables (the operators' offers and acknowledgement are the dispatch engine's).

- ``sos_enrolments``: a person aged 80 or over (from their verified ID number) with 本市户籍,
  living alone, enrolled by their neighbourhood or village committee or 区民政局; home address
  and point and health notes encrypted; ``ended`` with a reason and a date.
- ``sos_contacts``: emergency contacts in order (family, neighbour…): name and phone
  encrypted; ``account_id`` when they have an account (they follow alarms in the app and may
  press the button for the person, ``may_alarm``).
- ``sos_devices``: a pull cord or wearable, a device (``devices``) of the call centre, worn by
  an enrolled person or by nobody known (released at the end of an enrolment); its heartbeat
  is the telemetry engine's (``inactivity.py``).
- ``sos_alarms``: one per emergency: presses within ``MERGE_WINDOW`` of the same person or
  device join it; the dispatch job that offers it to the operators (``job_id``); the
  escalation chain running (``chain``: ``ack`` or ``arrival``, its start and level); the
  responder's visit; the outcome that closes it.
- ``sos_alarm_events``: the alarm's trail: every press, offer, acknowledgement, chain step
  attempt (with who was told on which channels), visit, arrival and the outcome.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, IdMixin, UTCDateTime
from auth import pii

ENROLMENT_STATES = ("active", "ended")
END_REASONS = ("moved_away", "moved_in_with_family", "died", "other")
CONTACT_RELATIONS = ("family", "neighbour", "friend", "other")
DEVICE_KINDS = ("pull_cord", "wearable")
ALARM_KINDS = ("button", "device", "inactivity")
ALARM_STATES = ("open", "acknowledged", "visiting", "on_scene", "closed")
OUTCOMES = ("false_alarm", "helped_at_home", "taken_to_hospital", "other")
CHAINS = ("ack", "arrival")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class SosEnrolment(IdMixin, Base):
    __tablename__ = "sos_enrolments"
    __table_args__ = (
        sa.CheckConstraint(_in("state", ENROLMENT_STATES), name="state_known"),
        sa.CheckConstraint("end_reason IS NULL OR " + _in("end_reason", END_REASONS), name="end_reason_known"),
        # One active enrolment per person.
        sa.Index("uq_sos_enrolments_active_person", "person_id", unique=True,
                 postgresql_where=sa.text("state = 'active'"), sqlite_where=sa.text("state = 'active'")),
    )

    person_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("persons.id"), index=True)
    committee_org_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("organisations.id"), index=True)
    enrolled_by_account_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("accounts.id"))
    hukou_shanghai: Mapped[bool] = mapped_column(sa.Boolean)
    """本市户籍, as the enrolling committee checked it."""
    lives_alone: Mapped[bool] = mapped_column(sa.Boolean)
    address: Mapped[str] = mapped_column(pii.EncryptedText("sos.address"))
    home_point: Mapped[str | None] = mapped_column(pii.EncryptedText("sos.home_point"))
    """``"lat,lon"`` (WGS84), encrypted: where responders go."""
    health: Mapped[str | None] = mapped_column(pii.EncryptedText("sos.health"))
    """Health notes for responders (encrypted; every read by staff audited)."""
    state: Mapped[str] = mapped_column(sa.String(16), default="active")
    end_reason: Mapped[str | None] = mapped_column(sa.String(24))
    ended_on: Mapped[date | None] = mapped_column(sa.Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SosContact(IdMixin, Base):
    __tablename__ = "sos_contacts"
    __table_args__ = (
        sa.CheckConstraint(_in("relation", CONTACT_RELATIONS), name="relation_known"),
        sa.UniqueConstraint("enrolment_id", "position"),
        sa.Index("ix_sos_contacts_account", "account_id"),
    )

    enrolment_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("sos_enrolments.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(sa.Integer)
    relation: Mapped[str] = mapped_column(sa.String(16))
    name: Mapped[str] = mapped_column(pii.EncryptedText("sos.contact_name"))
    phone: Mapped[str | None] = mapped_column(pii.EncryptedText("sos.contact_phone"))
    account_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("accounts.id"))
    may_alarm: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    """Their app's button raises an alarm for the person (a relative's account)."""


class SosDevice(IdMixin, Base):
    __tablename__ = "sos_devices"
    __table_args__ = (
        sa.CheckConstraint(_in("kind", DEVICE_KINDS), name="kind_known"),
        sa.UniqueConstraint("device_id"),
    )

    device_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("devices.id"))
    kind: Mapped[str] = mapped_column(sa.String(16))
    enrolment_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("sos_enrolments.id"), index=True)
    """The wearer; null once released (or never assigned)."""
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SosAlarm(IdMixin, Base):
    __tablename__ = "sos_alarms"
    __table_args__ = (
        sa.CheckConstraint(_in("kind", ALARM_KINDS), name="kind_known"),
        sa.CheckConstraint(_in("state", ALARM_STATES), name="state_known"),
        sa.CheckConstraint("outcome IS NULL OR " + _in("outcome", OUTCOMES), name="outcome_known"),
        sa.CheckConstraint("chain IS NULL OR " + _in("chain", CHAINS), name="chain_known"),
        sa.CheckConstraint("(state = 'closed') = (outcome IS NOT NULL)", name="closed_with_outcome"),
        sa.CheckConstraint("chain_level >= 0 AND presses >= 1", name="counts_valid"),
        sa.UniqueConstraint("job_id"),
        sa.Index("ix_sos_alarms_open", "state", "created_at"),
        sa.Index("ix_sos_alarms_enrolment", "enrolment_id", "created_at"),
        sa.Index("ix_sos_alarms_device", "device_id", "created_at"),
        sa.Index("ix_sos_alarms_created", "created_at"),
    )

    kind: Mapped[str] = mapped_column(sa.String(16))
    enrolment_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("sos_enrolments.id"))
    """Null: a device whose wearer is not enrolled (the operator gets whatever is known)."""
    device_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("sos_devices.id"))
    raised_by_account_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("accounts.id"))
    call_centre_org_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("organisations.id"))
    committee_org_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("organisations.id"))
    job_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("dispatch_jobs.id"))
    state: Mapped[str] = mapped_column(sa.String(16), default="open")
    presses: Mapped[int] = mapped_column(sa.Integer, default=1)
    last_press_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ack_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_account_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("accounts.id"))
    responder_account_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("accounts.id"))
    visit_accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    arrival_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    chain: Mapped[str | None] = mapped_column(sa.String(16))
    chain_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    chain_level: Mapped[int] = mapped_column(sa.Integer, default=0)
    chain_version: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    """The version of the escalation chain current when the alarm was raised (``app.chains``)."""
    outcome: Mapped[str | None] = mapped_column(sa.String(24))
    outcome_text: Mapped[str | None] = mapped_column(pii.EncryptedText("sos.outcome_text"))
    """What happened, for ``other`` (may say something of health: encrypted)."""
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_account_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("accounts.id"))
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SosAlarmEvent(IdMixin, Base):
    __tablename__ = "sos_alarm_events"
    __table_args__ = (sa.Index("ix_sos_alarm_events_alarm", "alarm_id", "id"),)

    alarm_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("sos_alarms.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    action: Mapped[str] = mapped_column(sa.String(40))
    actor_account_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("accounts.id"))
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
