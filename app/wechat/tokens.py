"""The access token, shared by every process through one database row per appid.

``token()`` returns the stored token unless it expires within the margin (5 minutes by
default: stable_token hands out a new token in its last 5 minutes); each process keeps the
last token it saw in memory until that margin, so the row is read once per token, not per
call (a token replaced meanwhile fails with 40001 and the recovery reads the row).
``refresh()`` renews it so that one process at a time calls WeChat: on PostgreSQL in a
short transaction of its own that locks the row (``SELECT … FOR UPDATE``), so the new token
is visible to every process as soon as it is fetched; on SQLite inside the caller's write
transaction (SQLite has one writer, and a second connection of this process would wait for
the caller's own lock). Under the lock it re-reads the row: when another process has already
replaced the token the caller saw fail (or the expiring one), that token is returned and
WeChat is not asked.

Force refreshes (``force_refresh=true``) invalidate the previous token for everyone, and
WeChat allows 20 a day, 30 s apart: the row counts them per Beijing day, an attempt counts
even when its answer is lost, and a refused attempt raises ``ForceRefreshLimited``.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.clock import Clock
from app.db import Database
from app.fields import CST
from app.wechat.errors import ForceRefreshLimited, WechatUnavailable
from app.wechat.models import WechatAccessToken

FORCE_PER_DAY = 20
FORCE_SPACING = timedelta(seconds=30)

Fetch = Callable[[bool], tuple[str, int]]
"""``fetch(force_refresh) -> (access_token, expires_in seconds)``; raises WechatUnavailable."""


class TokenStore:
    def __init__(self, database: Database, clock: Clock, *, appid: str, fetch: Fetch,
                 margin: timedelta = timedelta(minutes=5)) -> None:
        self.database = database
        self.clock = clock
        self.appid = appid
        self.fetch = fetch
        self.margin = margin
        self._cached: tuple[str, datetime] | None = None  # (token, usable until)

    # ------------------------------------------------------------ reading

    def _usable_until(self, row: WechatAccessToken) -> datetime:
        """Expiry minus the margin (at most half the token's lifetime)."""
        assert row.expires_at is not None
        lifetime = row.expires_at - (row.refreshed_at or row.expires_at)
        margin = min(self.margin, lifetime / 2) if lifetime > timedelta(0) else self.margin
        return row.expires_at - margin

    def _fresh(self, row: WechatAccessToken | None, now: datetime) -> bool:
        if row is None or not row.access_token or row.expires_at is None:
            return False
        return self._usable_until(row) > now

    def _read(self, session: Session, *, lock: bool = False) -> WechatAccessToken | None:
        stmt = sa.select(WechatAccessToken).where(WechatAccessToken.appid == self.appid)
        if lock:
            stmt = stmt.with_for_update()
        return session.scalars(stmt, execution_options={"populate_existing": True}).one_or_none()

    def token(self, session: Session | None = None) -> str:
        """A token valid beyond the margin, refreshed (normal mode) when needed.

        The last token seen is kept in memory until its margin: another process's force
        refresh makes it fail with 40001, and the client's recovery then reads the row.
        """
        cached = self._cached
        if cached is not None and cached[1] > self.clock.now():
            return cached[0]
        if session is not None:
            row = self._read(session)
            if self._fresh(row, self.clock.now()):
                return self._remember(row)
        else:
            with self.database.transaction(write=False) as s:
                row = self._read(s)
                if self._fresh(row, self.clock.now()):
                    return self._remember(row)
        return self.refresh(session)

    def _remember(self, row: WechatAccessToken) -> str:
        assert row.access_token is not None
        self._cached = (row.access_token, self._usable_until(row))
        return row.access_token

    # ------------------------------------------------------------ refreshing

    @contextmanager
    def _bookkeeping(self, session: Session | None) -> Iterator[Session]:
        if session is None or self.database.dialect == "postgresql":
            with self.database.transaction() as own:
                yield own
        else:
            with session.begin_nested():
                yield session

    def _locked_row(self, session: Session) -> WechatAccessToken:
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        session.execute(insert(WechatAccessToken).values(appid=self.appid, version=0, force_count=0)
                        .on_conflict_do_nothing())
        row = self._read(session, lock=True)
        assert row is not None
        return row

    def refresh(self, session: Session | None = None, *, failed: str | None = None, force: bool = False) -> str:
        """Renew the token unless another process already did; returns the token to use.

        ``failed`` is the token an API call just rejected (40001/42001): a stored token that
        differs from it was renewed meanwhile and is returned as is.
        """
        try:
            return self._refresh(session, failed=failed, force=force)
        except BaseException:
            self._cached = None  # never keep serving a token that just failed
            raise

    def _refresh(self, session: Session | None, *, failed: str | None, force: bool) -> str:
        error: WechatUnavailable | None = None
        with self._bookkeeping(session) as s:
            row = self._locked_row(s)
            now = self.clock.now()
            if row.access_token != failed and self._fresh(row, now):
                return self._remember(row)
            if force:
                self._claim_force(row, now)
            try:
                token, expires_in = self.fetch(force)
            except WechatUnavailable as exc:
                error = exc  # commit the force attempt's count, then raise
            else:
                row.access_token = token
                row.expires_at = now + timedelta(seconds=expires_in)
                row.refreshed_at = now
                row.version += 1
            s.flush()
        if error is not None:
            raise error
        return self._remember(row)

    def _claim_force(self, row: WechatAccessToken, now: datetime) -> None:
        today = now.astimezone(CST).date().isoformat()
        if row.force_day != today:
            row.force_day, row.force_count = today, 0
        if row.force_count >= FORCE_PER_DAY:
            raise ForceRefreshLimited("force refresh: 20 a day used")
        if row.last_force_at is not None and now - row.last_force_at < FORCE_SPACING:
            raise ForceRefreshLimited("force refresh: less than 30 s since the last one")
        row.force_count += 1
        row.last_force_at = now
