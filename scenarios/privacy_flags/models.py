"""``pf_flags``: at most one flag per audit row (its primary key), naming the ticket it became.

No foreign key to ``audit_entries``: audit rows are deleted after their retention period, the
flag's ticket keeps what the row said."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, UTCDateTime


class PfFlag(Base):
    __tablename__ = "pf_flags"

    audit_entry_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    ticket_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("wf_tickets.id", ondelete="SET NULL"))
    flagged_at: Mapped[datetime] = mapped_column(UTCDateTime)
