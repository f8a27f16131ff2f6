"""Tables of online-consult, beside the engine's ticket: the request's health data (symptoms,
the prescription to renew) and the doctor's renewal (items, its pass), encrypted at rest."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, IdMixin, UTCDateTime
from auth import pii


class OcConsult(Base):
    __tablename__ = "oc_consults"

    ticket_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("wf_tickets.id", ondelete="CASCADE"),
                                           primary_key=True)
    patient_person_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("persons.id"), index=True)
    department: Mapped[str] = mapped_column(sa.String(40))
    symptoms: Mapped[str] = mapped_column(pii.EncryptedText("consult.symptoms"))
    requested_json: Mapped[str] = mapped_column(pii.EncryptedText("consult.requested"))
    outcome: Mapped[str | None] = mapped_column(sa.String(16))
    """None while open; ``renewed`` or ``come_in`` once the doctor decided."""

    @property
    def requested(self) -> list[dict[str, Any]]:
        return json.loads(self.requested_json)


class OcRenewal(IdMixin, Base):
    __tablename__ = "oc_renewals"

    ticket_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("wf_tickets.id", ondelete="CASCADE"), unique=True)
    doctor_account_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("accounts.id", ondelete="SET NULL"))
    items_json: Mapped[str] = mapped_column(pii.EncryptedText("consult.renewal"))
    pass_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("qr_passes.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def items(self) -> list[dict[str, Any]]:
        return json.loads(self.items_json)


def renewal_ref(renewal_id: int) -> str:
    return f"prescription:{renewal_id}"
