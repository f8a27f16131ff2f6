"""The UTC datetime type and SQLite's transaction modes."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from app.db import Database, UTCDateTime
from auth.organisations import Organisation


def test_aware_datetimes_come_back_utc(session):
    cst = timezone(timedelta(hours=8))
    org = Organisation(code="t-utc", name="t", type="merchant")
    session.add(org)
    session.flush()
    session.execute(sa.update(Organisation).where(Organisation.id == org.id).values(
        created_at=datetime(2026, 3, 1, 8, 30, tzinfo=cst)))
    session.expire_all()
    got = session.get(Organisation, org.id).created_at
    assert got == datetime(2026, 3, 1, 0, 30, tzinfo=UTC)
    assert got.tzinfo is not None and got.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        UTCDateTime().process_bind_param(datetime(2026, 1, 1), sa.create_engine("sqlite://").dialect)


def test_sqlite_write_transactions_begin_immediate(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'modes.db'}")
    seen: list[str] = []
    sa.event.listen(database.engine, "before_cursor_execute",
                    lambda conn, cur, stmt, *a: seen.append(stmt))
    with database.transaction(write=False) as s:
        s.execute(sa.text("SELECT 1"))
    with database.transaction(write=True) as s:
        s.execute(sa.text("SELECT 1"))
    assert seen == ["BEGIN", "SELECT 1", "BEGIN IMMEDIATE", "SELECT 1"]
    with database.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000
    database.dispose()


def test_get_views_that_write_get_a_write_session(app):
    """On SQLite a read transaction cannot be upgraded under concurrency: GETs that write
    (drawing a fresh personal code) are marked ``@writes`` and begin IMMEDIATE."""
    from app.db import _request_writes, _view_target

    cases = [("GET", "/api/v1/qr/personal/image", True), ("GET", "/healthz", False),
             ("GET", "/api/v1/communities", False), ("POST", "/api/v1/qr/personal", True),
             ("GET", "/api/v1/place-checkin/places", True)]
    for method, path, expected in cases:
        with app.test_request_context(path, method=method):
            assert _request_writes(_view_target()) is expected, (method, path)
