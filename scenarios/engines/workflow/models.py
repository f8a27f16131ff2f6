"""Tables of the workflow engine, shared by every ticket scenario (``scenario`` column).

- ``wf_tickets``: one row per ticket, with its SLA clock (due times, pause, escalation level)
  and a ``version`` for ETags. ``due_at`` is the deadline that matters now (the response
  target while nobody has responded, then the resolution target; null while paused or
  finished) so a queue sorts and filters on one indexed column.
- ``wf_ticket_events``: the trail (who, what, when, from/to status, note). An ``internal`` event
  (a staff note for staff only) never reaches the reporter: not in their view of the ticket,
  not in their notices.
- ``wf_ticket_photos``: uploads attached at report time or with the resolution.
- ``wf_sla_policies``: targets as data, per scenario and category (null category = the
  scenario's default). A change adds a row and deactivates the old one, so tickets keep the
  policy they were created under.

Business calendars count in the platform's calendar (``app.calendar``).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, IdMixin, UTCDateTime

STATUSES = (
    "submitted", "acknowledged", "assigned", "in_progress", "awaiting_reporter",
    "resolved", "closed", "reopened", "rejected", "duplicate",
)
OPEN_STATUSES = ("submitted", "acknowledged", "assigned", "in_progress", "awaiting_reporter", "reopened")
RESPONSE_PENDING = ("submitted", "reopened")
"""Statuses in which nobody has responded yet (in this cycle): the response clock runs."""
FINAL_STATUSES = ("closed", "rejected", "duplicate")
PRIORITIES = ("low", "normal", "high", "urgent")
PHOTO_STAGES = ("report", "resolution")
CALENDARS = ("24x7", "business")
SUBJECT = "wf_ticket"
"""The ``subject_type`` of a ticket's timers (and of its moderation items)."""
RESPONSE_KIND = "workflow.response"
"""Timers of the response target, one per level of the scenario's escalation policy (by
default level 1 at the target, level 2 at twice the target)."""
RESOLUTION_KIND = "workflow.resolution"
MODERATION_STATES = ("visible", "pending", "hidden")
"""``visible``: not moderated, or cleared; ``pending``: waiting for review; ``hidden``: refused."""


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class SlaPolicy(IdMixin, Base):
    __tablename__ = "wf_sla_policies"
    __table_args__ = (
        sa.CheckConstraint(_in("calendar", CALENDARS), name="calendar_known"),
        sa.CheckConstraint("response_minutes > 0", name="response_positive"),
        sa.CheckConstraint("resolution_minutes IS NULL OR resolution_minutes > 0", name="resolution_positive"),
        sa.CheckConstraint("work_start_minute >= 0 AND work_end_minute <= 1440 "
                           "AND work_start_minute < work_end_minute", name="work_hours_ordered"),
        # At most one active policy per (scenario, category) and one active default per scenario.
        sa.Index("uq_wf_sla_policies_active_category", "scenario", "category", unique=True,
                 postgresql_where=sa.text("active AND category IS NOT NULL"),
                 sqlite_where=sa.text("active AND category IS NOT NULL")),
        sa.Index("uq_wf_sla_policies_active_default", "scenario", unique=True,
                 postgresql_where=sa.text("active AND category IS NULL"),
                 sqlite_where=sa.text("active AND category IS NULL")),
    )

    scenario: Mapped[str] = mapped_column(sa.String(60))
    category: Mapped[str | None] = mapped_column(sa.String(40))
    response_minutes: Mapped[int] = mapped_column(sa.Integer)
    resolution_minutes: Mapped[int | None] = mapped_column(sa.Integer)
    calendar: Mapped[str] = mapped_column(sa.String(16), default="24x7")
    work_start_minute: Mapped[int] = mapped_column(sa.Integer, default=9 * 60)
    work_end_minute: Mapped[int] = mapped_column(sa.Integer, default=17 * 60)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_account_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("accounts.id"))


class Ticket(IdMixin, Base):
    __tablename__ = "wf_tickets"
    __table_args__ = (
        sa.CheckConstraint(_in("status", STATUSES), name="status_known"),
        sa.CheckConstraint(_in("priority", PRIORITIES), name="priority_known"),
        sa.CheckConstraint(_in("moderation_state", MODERATION_STATES), name="moderation_known"),
        sa.CheckConstraint("rating IS NULL OR (rating >= 1 AND rating <= 5)", name="rating_range"),
        sa.CheckConstraint("escalation_level >= 0 AND version >= 1", name="counters_valid"),
        sa.UniqueConstraint("number"),
        # The queue: an organisation's open tickets of a scenario by deadline (then id), read
        # in index order, so a page costs the same with 50 or 50,000 open tickets.
        sa.Index("ix_wf_tickets_queue", "org_id", "scenario", "is_open", "due_at", "id"),
        sa.Index("ix_wf_tickets_org_created", "org_id", "created_at"),
        sa.Index("ix_wf_tickets_reporter_created", "reporter_account_id", "created_at"),
        # Duplicate hints: the latest open tickets of the same building and category, read in
        # index order (created_at, then id: the whole ORDER BY, so no plan sorts the building).
        sa.Index("ix_wf_tickets_building_category", "building_id", "category", "created_at", "id"),
        sa.Index("ix_wf_tickets_scenario_lat", "scenario", "lat"),
        # A dispatching organisation's view (区城运中心: every report it routed, wherever it is now).
        sa.Index("ix_wf_tickets_dispatch_queue", "dispatch_org_id", "scenario", "is_open", "due_at", "id"),
        # A scenario's tickets over a period (city-report's public hot spots).
        sa.Index("ix_wf_tickets_scenario_created", "scenario", "created_at"),
        # Assigned to me (road chiefs' queue across organisations).
        sa.Index("ix_wf_tickets_assignee_queue", "assignee_account_id", "scenario", "is_open", "due_at"),
        # The queue filtered by priority (urgent ones first), still read in deadline order.
        sa.Index("ix_wf_tickets_priority_queue", "org_id", "scenario", "is_open", "priority", "due_at", "id"),
    )

    scenario: Mapped[str] = mapped_column(sa.String(60))
    number: Mapped[str | None] = mapped_column(sa.String(40))
    org_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("organisations.id"))
    dispatch_org_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("organisations.id"))
    """The organisation that routes the ticket (it keeps seeing it wherever it goes); null: none."""
    reporter_account_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("accounts.id"))
    subject_person_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("persons.id"))
    # Where: a room of a community, a house of a village, or coordinates and an address.
    community_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("communities.id"))
    building_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("buildings.id"))
    room: Mapped[str | None] = mapped_column(sa.String(8))
    village_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("villages.id"))
    house_number: Mapped[int | None] = mapped_column(sa.Integer)
    lat: Mapped[float | None] = mapped_column(sa.Float)
    lon: Mapped[float | None] = mapped_column(sa.Float)
    address: Mapped[str | None] = mapped_column(sa.String(300))
    # What
    category: Mapped[str] = mapped_column(sa.String(40))
    text: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(24), default="submitted")
    is_open: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    priority: Mapped[str] = mapped_column(sa.String(16), default="normal")
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    assignee_account_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("accounts.id"))
    duplicate_of_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("wf_tickets.id"), index=True)
    moderation_state: Mapped[str] = mapped_column(sa.String(16), default="visible")
    appointment_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When staff will call at the reporter's (set with ``assign`` or ``appointment``)."""
    # The reporter's verdict
    rating: Mapped[int | None] = mapped_column(sa.SmallInteger)
    rating_comment: Mapped[str | None] = mapped_column(sa.String(500))
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The SLA clock
    sla_policy_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("wf_sla_policies.id"))
    response_minutes: Mapped[int] = mapped_column(sa.Integer)
    resolution_minutes: Mapped[int | None] = mapped_column(sa.Integer)
    calendar: Mapped[str] = mapped_column(sa.String(16), default="24x7")
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response_breached: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    resolution_breached: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_from_status: Mapped[str | None] = mapped_column(sa.String(24))
    response_remaining_seconds: Mapped[int | None] = mapped_column(sa.Integer)
    resolution_remaining_seconds: Mapped[int | None] = mapped_column(sa.Integer)
    escalation_level: Mapped[int] = mapped_column(sa.Integer, default=0)
    escalation_version: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    """The version of the scenario's escalation chain the ticket was filed under (``app.chains``)."""
    reopen_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<Ticket {self.id} {self.scenario} {self.number} {self.status}>"


class TicketEvent(IdMixin, Base):
    __tablename__ = "wf_ticket_events"
    __table_args__ = (
        sa.CheckConstraint(_in("actor_kind", ("resident", "staff", "system")), name="actor_kind_known"),
        sa.Index("ix_wf_ticket_events_ticket_at", "ticket_id", "at"),
    )

    ticket_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("wf_tickets.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_kind: Mapped[str] = mapped_column(sa.String(16))
    actor_account_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("accounts.id"))
    actor_org_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("organisations.id"))
    action: Mapped[str] = mapped_column(sa.String(40))
    from_status: Mapped[str | None] = mapped_column(sa.String(24))
    to_status: Mapped[str | None] = mapped_column(sa.String(24))
    note: Mapped[str | None] = mapped_column(sa.Text)
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    internal: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    """A staff note for staff only: never shown to the reporter, never told to them."""


class TicketPhoto(IdMixin, Base):
    __tablename__ = "wf_ticket_photos"
    __table_args__ = (
        sa.CheckConstraint(_in("stage", PHOTO_STAGES), name="stage_known"),
        sa.UniqueConstraint("ticket_id", "upload_id"),
    )

    ticket_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("wf_tickets.id", ondelete="CASCADE"), index=True)
    upload_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("uploads.id"))
    stage: Mapped[str] = mapped_column(sa.String(16))
    event_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("wf_ticket_events.id"))
    added_by_account_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("accounts.id"))
    position: Mapped[int] = mapped_column(sa.Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
