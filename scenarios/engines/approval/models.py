"""Tables of the approval engine.

- ``ap_applications``: one application of a scenario by an applicant, reviewed by one
  organisation (``org_id``); ``form`` is what the scenario's schema loaded; ``subject_type`` and
  ``subject_id`` name what it is about when that is a row of its own (a tenancy). ``review_due_at``
  is the reviewer's deadline (a timer of kind ``approval.review_due`` fires then and sets
  ``overdue``). Every state change is a compare-and-set on the expected state.
- ``ap_decisions``: the history (submitted, asked for more, resubmitted, approved, rejected with
  reasons, withdrawn, overdue).
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, IdMixin, UTCDateTime

STATES = ("submitted", "more_info", "approved", "rejected", "withdrawn")
OPEN_STATES = ("submitted", "more_info")
SUBJECT = "ap_application"
"""The timers' and visibility registry's name of an application."""


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class ApApplication(IdMixin, Base):
    __tablename__ = "ap_applications"
    __table_args__ = (
        sa.CheckConstraint(_in("state", STATES), name="state_known"),
        sa.Index("ix_ap_applications_review", "scenario", "org_id", "state", "review_due_at"),
        sa.Index("ix_ap_applications_applicant", "applicant_account_id", "scenario"),
        sa.Index("ix_ap_applications_subject", "subject_type", "subject_id"),
    )

    scenario: Mapped[str] = mapped_column(sa.String(40))
    applicant_account_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("accounts.id"))
    applicant_person_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("persons.id"))
    org_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("organisations.id"))
    subject_type: Mapped[str | None] = mapped_column(sa.String(40))
    subject_id: Mapped[str | None] = mapped_column(sa.String(40))
    form: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    state: Mapped[str] = mapped_column(sa.String(16), default="submitted")
    reasons: Mapped[list] = mapped_column(sa.JSON, default=list)
    note: Mapped[str | None] = mapped_column(sa.String(500))
    review_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    overdue: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_account_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApDecision(IdMixin, Base):
    __tablename__ = "ap_decisions"
    __table_args__ = (sa.Index("ix_ap_decisions_application", "application_id", "id"),)

    application_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("ap_applications.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(sa.String(24))
    from_state: Mapped[str | None] = mapped_column(sa.String(16))
    to_state: Mapped[str] = mapped_column(sa.String(16))
    account_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("accounts.id"))
    reasons: Mapped[list] = mapped_column(sa.JSON, default=list)
    note: Mapped[str | None] = mapped_column(sa.String(500))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
