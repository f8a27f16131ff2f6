"""PostgreSQL pooled connections are checked before use, so a restarted server costs no failed request."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.db import create_engine
from tests.support.database import backend

pytestmark = pytest.mark.skipif(backend() != "postgresql", reason="the pool's ping matters on PostgreSQL")


def pid(conn) -> int:
    return conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()


def test_a_killed_pooled_connection_is_replaced_before_use(database_url):
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        with engine.connect() as conn:
            first = pid(conn)
        killer = create_engine(database_url, poolclass=sa.pool.NullPool)
        with killer.connect() as k:
            k.execute(sa.text("SELECT pg_terminate_backend(:p, 5000)"), {"p": first})
        killer.dispose()
        with engine.connect() as conn:  # no error: the ping found it dead and the pool reconnected
            assert pid(conn) != first
    finally:
        engine.dispose()


def test_live_connections_are_pinged_only_after_long_idle(database_url, monkeypatch):
    """A busy pool costs no round trip per checkout; a connection idle for longer than
    PING_AFTER_IDLE_SECONDS is pinged (a silently dropped one would be replaced)."""
    import app.db as db_module

    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    pings = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda c: pings.append(1) or real_ping(c))
    try:
        with engine.connect() as conn:
            first = pid(conn)
        for _ in range(3):
            with engine.connect() as conn:
                assert pid(conn) == first
        assert pings == []
        monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)
        with engine.connect() as conn:
            assert pid(conn) == first
        assert pings == [1]
    finally:
        engine.dispose()
