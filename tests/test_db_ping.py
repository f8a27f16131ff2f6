"""PostgreSQL connections are pinged before use, so a restarted server costs no failed request."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.db import create_engine
from tests.conftest import backend

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
            k.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": first})
        killer.dispose()
        with engine.connect() as conn:  # no error: the ping found it dead and the pool reconnected
            assert pid(conn) != first
    finally:
        engine.dispose()
