"""Clocks passed to services: the database's time in production, a settable one in tests."""
from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class DatabaseClock:
    """The database server's time, so every process and machine agrees on deadlines.

    Asking the server on every call would cost a round trip per request; instead the
    offset between the server and this process is measured once a minute.
    """

    REFRESH_SECONDS = 60.0

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._offset = timedelta(0)
        self._measured_at = -1e9
        self._lock = threading.Lock()

    def _measure(self) -> None:
        if self._engine.dialect.name != "postgresql":
            self._offset = timedelta(0)
            return
        before = datetime.now(UTC)
        with self._engine.connect() as conn:
            server = conn.execute(sa.text("SELECT clock_timestamp()")).scalar_one()
        after = datetime.now(UTC)
        self._offset = server - (before + (after - before) / 2)

    def now(self) -> datetime:
        mono = time.monotonic()
        if mono - self._measured_at > self.REFRESH_SECONDS:
            with self._lock:
                if mono - self._measured_at > self.REFRESH_SECONDS:
                    self._measure()
                    self._measured_at = mono
        return datetime.now(UTC) + self._offset


class FrozenClock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 2, 1, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when

    def advance(self, **kw: float) -> datetime:
        self._now += timedelta(**kw)
        return self._now
