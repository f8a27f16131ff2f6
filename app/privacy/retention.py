"""Retention by kind (PIPL art. 19): one schedule, as data, of how long each table holding
personal data keeps it, shown at ``GET /api/v1/privacy/retention`` and in the README.

Each entry either names the periodic job that enforces it (``job``: an existing purge, such
as ``purge_checkins``), or carries its own ``purge(session, cutoff)`` that ``enforce_retention``
(periodic, hourly) runs with ``cutoff = now - keep``, or keeps the data while the person's
account lives (``keep`` None: erased or anonymised when they cancel it, ``auth/erasure.py``).
Parts declare entries for their tables (``PersonalData.retention``); the platform's own are
here. ``tests/app/privacy/test_retention.py`` fails for a table holding personal data with no
entry, and for an entry naming a job that does not exist.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.periodic import periodic

Purge = Callable[[Session, datetime], int]
ON_CANCELLATION = "账号存续期间保存；注销账号时删除或匿名化"


@dataclass(frozen=True)
class Keep:
    """How long ``table``'s personal data is kept, why, and what enforces it."""

    table: str
    kind_zh: str
    keep: timedelta | None
    basis_zh: str
    job: str | None = None
    purge: Purge | None = None

    def describe(self) -> dict[str, Any]:
        return {"table": self.table, "kind_zh": self.kind_zh,
                "keep_days": None if self.keep is None else self.keep / timedelta(days=1),
                "basis_zh": self.basis_zh,
                "enforced_by": self.job or ("enforce_retention" if self.purge else "account_cancellation")}


def schedule() -> list[Keep]:
    """Every registered part's entries, by table."""
    from app.privacy.parts import PARTS

    return sorted((k for part in PARTS.values() for k in part.retention), key=lambda k: k.table)


@periodic("enforce_retention", every=timedelta(hours=1))
def enforce_retention(session: Session, clock: Clock) -> int:
    """Run every entry's own purge with its cutoff; returns the rows deleted."""
    now = clock.now()
    return sum(k.purge(session, now - k.keep) for k in schedule() if k.purge is not None and k.keep is not None)


def delete_before(table: str, column: str, *where: str) -> Purge:
    """A purge deleting ``table``'s rows whose ``column`` is before the cutoff (and ``where``)."""

    def purge(session: Session, cutoff: datetime) -> int:
        t = sa.table(table, sa.column(column))
        stmt = sa.delete(t).where(t.c[column] < sa.bindparam("cutoff", type_=_utc()))
        for clause in where:
            stmt = stmt.where(sa.text(clause))
        return session.execute(stmt, {"cutoff": cutoff}).rowcount or 0

    return purge


def _utc() -> Any:
    from app.db import UTCDateTime

    return UTCDateTime()
