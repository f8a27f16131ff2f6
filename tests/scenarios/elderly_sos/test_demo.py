"""elderly-sos's demo data: loads through the scenario's services, twice without change."""
from __future__ import annotations

import sqlalchemy as sa

from scenarios.elderly_sos.models import SosAlarm


def test_demo_data_loads_twice_without_change(app, db, clock):
    from app.models import metadata
    from scenarios.elderly_sos.demo import load

    def counts(s):
        return {t.name: s.scalar(sa.select(sa.func.count()).select_from(t)) for t in metadata.sorted_tables}

    with app.app_context():
        with db.transaction() as s:
            load(s, clock)
        with db.transaction() as s:
            first = counts(s)
            outcomes = sorted(s.scalars(sa.select(SosAlarm.outcome)))
        clock.advance(minutes=5)
        with db.transaction() as s:
            load(s, clock)
        with db.transaction() as s:
            assert counts(s) == first
    assert outcomes == ["false_alarm", "helped_at_home"]
    assert first["sos_enrolments"] == 1 and first["sos_contacts"] == 2
