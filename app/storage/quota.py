"""A daily upload quota per account: one counter row per account and Beijing day.

Taking a slot is one statement, an insert that on conflict increments the day's count only
while it is under the quota (``INSERT … ON CONFLICT DO UPDATE … WHERE count < quota
RETURNING count``): on PostgreSQL the conflicting row is locked and the condition re-read, so
concurrent uploads at the boundary never take more slots than the quota; on SQLite writers
are serialised anyway. The slot belongs to the request's transaction: an upload that fails
afterwards (a corrupt image, a crash) rolls its slot back. Rows of past days are purged.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.clock import Clock
from app.db import Base, BigId
from app.errors import ApiError
from app.fields import CST
from app.periodic import periodic

DEFAULT_DAILY_QUOTA = 100
KEEP_DAYS = 2


class UploadQuotaDay(Base):
    """How many uploads an account made on a Beijing day."""

    __tablename__ = "upload_quota_days"

    account_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("accounts.id", ondelete="CASCADE"),
                                            primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True, index=True)
    count: Mapped[int] = mapped_column(sa.Integer)


def daily_quota(settings: Any) -> int:
    """``UPLOAD_DAILY_QUOTA`` (uploads per account per Beijing day; default 100, at least 1)."""
    raw = settings.get("UPLOAD_DAILY_QUOTA")
    try:
        return max(1, int(raw)) if raw else DEFAULT_DAILY_QUOTA
    except ValueError:
        return DEFAULT_DAILY_QUOTA


@cache
def _statement(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = UploadQuotaDay.__table__
    stmt = insert(table).values(account_id=sa.bindparam("account_id"), day=sa.bindparam("day"), count=1)
    return stmt.on_conflict_do_update(
        index_elements=[table.c.account_id, table.c.day], set_={"count": table.c.count + 1},
        where=table.c.count < sa.bindparam("quota"),
    ).returning(table.c.count)


def take_slot(session: Session, *, account_id: int, clock: Clock, quota: int) -> int:
    """Count one upload for ``account_id`` today (Beijing); 429 ``upload_quota_exceeded``, with
    ``Retry-After`` until Beijing midnight, once ``quota`` are taken. Returns the new count."""
    now = clock.now().astimezone(CST)
    taken = session.execute(_statement(session.get_bind().dialect.name),
                            {"account_id": account_id, "day": now.date(), "quota": quota}).scalar()
    if taken is None:
        midnight = datetime.combine(now.date() + timedelta(days=1), time(0), CST)
        raise ApiError("upload_quota_exceeded", headers={"Retry-After": str(int((midnight - now).total_seconds()) + 1)},
                       detail={"quota": quota})
    return taken


@periodic("purge_upload_quota_days", every=timedelta(hours=6))
def purge_old_days(session: Session, clock: Clock) -> int:
    """Forget the counts of days before yesterday (Beijing)."""
    cutoff = clock.now().astimezone(CST).date() - timedelta(days=KEEP_DAYS - 1)
    result = session.execute(sa.delete(UploadQuotaDay).where(UploadQuotaDay.day < cutoff))
    return result.rowcount or 0
