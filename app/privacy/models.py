"""``data_exports``: one row per copy of a person's data (at most one per person per Beijing day)."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, IdMixin, UTCDateTime

EXPORT_STATES = ("building", "ready")


class DataExport(IdMixin, Base):
    __tablename__ = "data_exports"
    __table_args__ = (
        sa.UniqueConstraint("person_id", "day"),  # one export per person per day, decided by the database
        sa.CheckConstraint("status IN ('building', 'ready')", name="status_known"),
    )

    public_id: Mapped[str] = mapped_column(sa.String(32), unique=True)
    person_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("persons.id", ondelete="CASCADE"))
    requested_by_account_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("accounts.id", ondelete="CASCADE"),
                                                         index=True)
    day: Mapped[date] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(16), default="building")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    file_path: Mapped[str] = mapped_column(sa.String(500))
    bytes: Mapped[int | None] = mapped_column(sa.Integer)
    sha256: Mapped[str | None] = mapped_column(sa.String(64))
