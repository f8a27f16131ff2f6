"""The caller of a work order, kept beside the ticket: their phone encrypted, and the resident
account whose number it is, when one matches. Departments never read this table."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId
from auth import pii


class HotlineCaller(Base):
    __tablename__ = "hl_callers"

    ticket_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("wf_tickets.id", ondelete="CASCADE"),
                                           primary_key=True)
    phone: Mapped[str] = mapped_column(pii.EncryptedText("hotline.caller_phone"))
    resident_account_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("accounts.id"), index=True)
