"""Tables of the dispatch engine, shared by every dispatch scenario (``scenario`` column).

- ``dispatch_agents``: one row per (scenario, staff account): on duty or not, the job being
  served (``job_id``: busy), and the latest position **in clear only while on duty** (cleared
  when going off duty) with its time; ``outside_area`` when that position is outside the
  district (unavailable for new jobs until back).
- ``dispatch_positions``: position history, each point encrypted (AES-GCM, ``auth.pii``),
  purged after the scenario's retention (``retention.py``).
- ``dispatch_jobs``: a request, its state (states.py), the point it is served from
  (``origin_label`` in clear: a public name, never an address; ``origin_point`` encrypted, as
  it may be a home — an SOS alarm's —, and cleared once the job has ended longer than the
  position retention ago), the requester's private fields encrypted (``private``: a
  destination), the agent who accepted, the round of offers, a ``version``.
- ``dispatch_offers``: one per (job, agent), never two, so an agent is never offered a job
  twice; ``pending`` until accepted, declined, expired or withdrawn (another agent won).
- ``dispatch_events``: the trail of every state change.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, IdMixin, UTCDateTime
from auth import pii
from scenarios.engines.dispatch.states import OFFER_STATES

SUBJECT = "dispatch_job"
"""The ``subject_type`` of a job's timers and the visibility registry's object type."""
OFFER_TIMEOUT_KIND = "dispatch.offer_timeout"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class DispatchAgent(IdMixin, Base):
    __tablename__ = "dispatch_agents"
    __table_args__ = (
        sa.UniqueConstraint("scenario", "account_id"),
        sa.CheckConstraint("(lat IS NULL) = (lon IS NULL)", name="position_whole"),
        # The database's search: on-duty agents of a scenario by latitude band.
        sa.Index("ix_dispatch_agents_on_duty", "scenario", "lat",
                 postgresql_where=sa.text("on_duty"), sqlite_where=sa.text("on_duty")),
        sa.Index("ix_dispatch_agents_org", "org_id"),
    )

    scenario: Mapped[str] = mapped_column(sa.String(60))
    account_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("accounts.id", ondelete="CASCADE"))
    org_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("organisations.id"))
    on_duty: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    job_id: Mapped[int | None] = mapped_column(BigId)
    """The job being served (no foreign key: jobs point at agents)."""
    lat: Mapped[float | None] = mapped_column(sa.Float)
    lon: Mapped[float | None] = mapped_column(sa.Float)
    position_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outside_area: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    available_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DispatchPosition(IdMixin, Base):
    __tablename__ = "dispatch_positions"
    __table_args__ = (sa.Index("ix_dispatch_positions_at", "at"),
                      sa.Index("ix_dispatch_positions_agent", "agent_id", "at"))

    agent_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("dispatch_agents.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    point: Mapped[str] = mapped_column(pii.EncryptedText("dispatch.position"))
    """``"lat,lon"``, encrypted."""


class DispatchJob(IdMixin, Base):
    __tablename__ = "dispatch_jobs"
    __table_args__ = (
        sa.Index("ix_dispatch_jobs_area_created", "scenario", "area", "created_at"),
        sa.Index("ix_dispatch_jobs_requester", "requester_account_id", "created_at"),
        sa.Index("ix_dispatch_jobs_agent", "agent_id", "created_at"),
        sa.Index("ix_dispatch_jobs_origin_kept", "ended_at", postgresql_where=sa.text("origin_point IS NOT NULL"),
                 sqlite_where=sa.text("origin_point IS NOT NULL")),
        # One open job per requester and scenario, however many taps arrive at once.
        sa.Index("uq_dispatch_jobs_open_requester", "scenario", "requester_account_id", unique=True,
                 postgresql_where=sa.text("ended_at IS NULL"), sqlite_where=sa.text("ended_at IS NULL")),
        sa.CheckConstraint("version > 0 AND round >= 0 AND offers_made >= 0", name="counts_valid"),
    )

    scenario: Mapped[str] = mapped_column(sa.String(60))
    status: Mapped[str] = mapped_column(sa.String(24))
    requester_account_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("accounts.id"))
    """Null for a job a scenario opens on nobody's account (an SOS device's alarm)."""
    requester_person_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("persons.id"))
    area: Mapped[str] = mapped_column(sa.String(64))
    origin_label: Mapped[str] = mapped_column(sa.String(200))
    origin_point: Mapped[str | None] = mapped_column(pii.EncryptedText("dispatch.origin"))
    """``"lat,lon"`` (WGS84), encrypted; None once purged (``retention.py``)."""
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    private: Mapped[str | None] = mapped_column(pii.EncryptedText("dispatch.private"))
    """The request's private fields as JSON, encrypted (a destination)."""
    agent_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("dispatch_agents.id"))
    round: Mapped[int] = mapped_column(sa.Integer, default=0)
    radius_index: Mapped[int] = mapped_column(sa.Integer, default=0)
    offers_made: Mapped[int] = mapped_column(sa.Integer, default=0)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by: Mapped[str | None] = mapped_column(sa.String(16))
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def origin_lat(self) -> float | None:
        return None if self.origin_point is None else float(self.origin_point.partition(",")[0])

    @property
    def origin_lon(self) -> float | None:
        return None if self.origin_point is None else float(self.origin_point.partition(",")[2])


def origin_point(lat: float, lon: float) -> str:
    """The stored form of a point (``repr`` keeps every digit of the float)."""
    return f"{lat!r},{lon!r}"


class DispatchOffer(IdMixin, Base):
    __tablename__ = "dispatch_offers"
    __table_args__ = (
        sa.UniqueConstraint("job_id", "agent_id"),
        sa.CheckConstraint(_in("state", OFFER_STATES), name="state_known"),
        sa.Index("ix_dispatch_offers_pending", "agent_id",
                 postgresql_where=sa.text("state = 'pending'"), sqlite_where=sa.text("state = 'pending'")),
    )

    job_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("dispatch_jobs.id", ondelete="CASCADE"))
    agent_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("dispatch_agents.id", ondelete="CASCADE"))
    round: Mapped[int] = mapped_column(sa.Integer)
    state: Mapped[str] = mapped_column(sa.String(16), default="pending")
    distance_m: Mapped[int | None] = mapped_column(sa.Integer)
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DispatchEvent(IdMixin, Base):
    __tablename__ = "dispatch_events"
    __table_args__ = (sa.Index("ix_dispatch_events_job", "job_id", "id"),)

    job_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("dispatch_jobs.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(sa.String(40))
    from_status: Mapped[str | None] = mapped_column(sa.String(24))
    to_status: Mapped[str | None] = mapped_column(sa.String(24))
    actor_account_id: Mapped[int | None] = mapped_column(BigId)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
