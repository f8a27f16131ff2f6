"""Which database the run is on, and migrating one (used by tests/conftest.py and by tests)."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa


def backend() -> str:
    return os.environ.get("TEST_DB", "sqlite")


def run_migrations(url: str, target: str = "head", *, down: bool = False) -> None:
    from alembic import command

    from app.migrations_state import alembic_config

    cfg = alembic_config(url)
    cfg.attributes["skip_logging"] = True
    (command.downgrade if down else command.upgrade)(cfg, target)


@contextmanager
def statements(session: Any) -> Iterator[list[str]]:
    """Counts the SQL statements the app runs meanwhile (the tests' connection is the app's)."""
    seen: list[str] = []
    engine = session.get_bind().engine

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
