"""Which database the run is on, and migrating one (used by tests/conftest.py and by tests)."""
from __future__ import annotations

import os


def backend() -> str:
    return os.environ.get("TEST_DB", "sqlite")


def run_migrations(url: str, target: str = "head", *, down: bool = False) -> None:
    from alembic import command

    from app.migrations_state import alembic_config

    cfg = alembic_config(url)
    cfg.attributes["skip_logging"] = True
    (command.downgrade if down else command.upgrade)(cfg, target)
