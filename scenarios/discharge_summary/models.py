"""Tables of discharge-summary: the PDF files (content-addressed under ``UPLOAD_DIR``, the row
names the hospital that uploaded it) and the summaries (structured fields, health data
encrypted at rest: diagnosis, advice, medicines, follow-ups)."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, IdMixin, UTCDateTime
from auth import pii


class DsFile(IdMixin, Base):
    """A PDF a hospital's staff uploaded (checked: magic bytes and a parse); served only through
    the signed URLs of a summary's readers."""

    __tablename__ = "ds_files"

    public_id: Mapped[str] = mapped_column(sa.String(32), unique=True)
    org_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("organisations.id"), index=True)
    uploaded_by_account_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("accounts.id"))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    bytes: Mapped[int] = mapped_column(sa.Integer)
    pages: Mapped[int] = mapped_column(sa.Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DsSummary(IdMixin, Base):
    __tablename__ = "ds_summaries"
    __table_args__ = (sa.Index("ix_ds_summaries_patient_created", "patient_person_id", "created_at"),)

    org_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("organisations.id"), index=True)
    patient_person_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("persons.id"))
    author_account_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("accounts.id", ondelete="SET NULL"))
    file_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("ds_files.id"))
    department: Mapped[str] = mapped_column(sa.String(40))
    admitted_on: Mapped[str | None] = mapped_column(sa.String(10))
    discharged_on: Mapped[str] = mapped_column(sa.String(10))
    diagnosis: Mapped[str] = mapped_column(pii.EncryptedText("discharge.diagnosis"))
    advice: Mapped[str | None] = mapped_column(pii.EncryptedText("discharge.advice"))
    medicines_json: Mapped[str] = mapped_column(pii.EncryptedText("discharge.medicines"))
    follow_ups_json: Mapped[str] = mapped_column(pii.EncryptedText("discharge.follow_ups"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def medicines(self) -> list[dict[str, Any]]:
        return json.loads(self.medicines_json)

    @property
    def follow_ups(self) -> list[dict[str, Any]]:
        return json.loads(self.follow_ups_json)
