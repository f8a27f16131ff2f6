"""``flask seed demo``: the reference places, then every scenario's demo data.

Each scenario's ``demo`` function ``(session, clock)`` runs in its own transaction and must itself
be idempotent (upsert by natural keys), so running the command twice changes nothing.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.clock import Clock
from app.db import Database


def load_demo(database: Database, clock: Clock) -> dict[str, Any]:
    """Load reference data and demo data; return what was loaded and the row counts after."""
    from app.models import metadata
    from app.places.seed import load_reference
    from app.scenario import load
    from scenarios.registry import SCENARIOS

    reference = load_reference(database)
    loaded: list[str] = []
    for scenario in SCENARIOS:
        if scenario.demo is None:
            continue
        with database.transaction() as session:
            load(scenario.demo)(session, clock)
        loaded.append(scenario.slug)
    from app.console.demo import load as load_console_demo

    with database.transaction() as session:
        load_console_demo(session, clock)  # the console's own: a district admin, a committee's claims

    with database.transaction(write=False) as session:
        rows = {
            table.name: session.scalar(sa.select(sa.func.count()).select_from(table)) or 0
            for table in metadata.sorted_tables
        }
    return {"reference": reference, "scenarios": loaded, "rows": rows}
