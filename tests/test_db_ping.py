"""PostgreSQL connections are pinged before use only after sitting idle in the pool."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.db import PING_AFTER_IDLE_SECONDS, create_engine
from tests.conftest import backend

pytestmark = pytest.mark.skipif(backend() != "postgresql", reason="the pool's ping is PostgreSQL's")


def pid(conn) -> int:
    return conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()


def test_busy_connections_are_not_pinged_and_idle_dead_ones_are_replaced(database_url):
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        with engine.connect() as conn:
            first = pid(conn)
            record = conn.connection._connection_record
        for _ in range(3):  # reused at once: no ping
            with engine.connect() as conn:
                assert pid(conn) == first
        assert record.info.get("pings", 0) == 0
        # idle for longer than the threshold: pinged, and still the same live connection
        record.info["checked_in_at"] -= PING_AFTER_IDLE_SECONDS + 1
        with engine.connect() as conn:
            assert pid(conn) == first
        assert record.info["pings"] == 1
        # the server ends the idle connection: the next checkout gets a new one, no error
        killer = create_engine(database_url, poolclass=sa.pool.NullPool)
        with killer.connect() as k:
            k.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": first})
        killer.dispose()
        record.info["checked_in_at"] -= PING_AFTER_IDLE_SECONDS + 1
        with engine.connect() as conn:
            assert pid(conn) != first
    finally:
        engine.dispose()


def test_pre_ping_on_every_checkout_can_still_be_asked_for(database_url):
    engine = create_engine(database_url, pool_pre_ping=True)
    try:
        assert engine.pool._pre_ping
    finally:
        engine.dispose()
