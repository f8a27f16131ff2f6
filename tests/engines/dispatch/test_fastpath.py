"""The dispatch engine's fast path (scenarios/engines/dispatch/fastpath.py) writes and answers
what the plain path does: the same reports go through both on PostgreSQL, one driver each, and
the agents' rows, their history (decrypted) and the answers are compared. On SQLite only the
plain path exists."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from app.db import FAST_PATHS, fast_paths_apply
from app.errors import ApiError
from auth.principal import Principal
from scenarios.engines.dispatch import agents
from scenarios.engines.dispatch.models import DispatchAgent, DispatchPosition
from scenarios.engines.dispatch.presenters import agent_state
from tests.engines.dispatch.scenario import CONFIG
from tests.support.database import backend

pytestmark = [pytest.mark.skipif(backend() != "postgresql", reason="fast paths are PostgreSQL's"),
              pytest.mark.usefixtures("ctx", "reset_rate_limits")]


def principal(dp, name: str) -> Principal:
    org = dp.orgs[name]
    return Principal("staff", account_id=dp.accounts[name].id, org_id=org.id, org_code=org.code, org_type=org.type,
                     role="driver")


def rows(dp, name: str) -> dict[str, Any]:
    dp.session.expire_all()
    agent = dp.session.scalar(sa.select(DispatchAgent).where(DispatchAgent.account_id == dp.accounts[name].id))
    history = dp.session.execute(sa.select(DispatchPosition.at, DispatchPosition.point)
                                 .where(DispatchPosition.agent_id == agent.id).order_by(DispatchPosition.id)).all()
    skip = {"id", "account_id"}
    return {"agent": {c.key: getattr(agent, c.key) for c in agent.__table__.columns if c.key not in skip},
            "history": [tuple(h) for h in history]}


def run(dp, name: str, fast: bool, reports: list[tuple[float, float, int | None]]) -> list[Any]:
    """Each report: (north m, east m, seconds before now or None); the clock is put back after."""
    dp.session.info[FAST_PATHS] = fast
    start = dp.clock.now()
    answers = []
    try:
        assert fast_paths_apply(dp.session) is fast
        agents.set_duty(dp.session, clock=dp.clock, principal=principal(dp, name), config=CONFIG, on_duty=True)
        for north, east, ago in reports:
            dp.clock.advance(seconds=5)
            lat, lon = dp.near(north, east) if east < 50_000 else (30.60, 122.5)
            at = None if ago is None else dp.clock.now() - timedelta(seconds=ago)
            try:
                agent = agents.report_position(dp.session, clock=dp.clock, principal=principal(dp, name),
                                               config=CONFIG, lat=lat, lon=lon, at=at)
                answers.append(agent_state(agent, CONFIG, dp.clock.now()))
            except ApiError as err:
                answers.append(err.code)
        agents.set_duty(dp.session, clock=dp.clock, principal=principal(dp, name), config=CONFIG, on_duty=False)
        answers.append(rows(dp, name))
        try:
            agents.report_position(dp.session, clock=dp.clock, principal=principal(dp, name), config=CONFIG,
                                   lat=30.74, lon=121.34)
        except ApiError as err:
            answers.append(err.code)
    finally:
        dp.session.info.pop(FAST_PATHS, None)
        dp.clock.set(start)
    return answers


REPORTS = [(100, 0, None), (200, 0, None), (900, 0, 20), (300, 100, 0), (0, 60_000, None), (400, 0, None),
           (500, 0, 3)]


def test_a_position_report_writes_and_answers_as_the_plain_path(dp):
    plain = run(dp, "d1", False, REPORTS)
    fast = run(dp, "d2", True, REPORTS)
    assert plain == fast
    history = plain[-2]["history"]
    assert len(history) == len(REPORTS)  # every report, the older one and the one outside too
    assert plain[-1] == "agent_off_duty"
    assert plain[4]["outside_area"] is True and plain[5]["outside_area"] is False
    raw = dp.session.execute(sa.text("SELECT point FROM dispatch_positions")).scalars().all()
    assert len(raw) == 2 * len(REPORTS) and not any("," in p and p.startswith("30.") for p in raw)  # encrypted


def test_the_fast_path_leaves_refusals_to_the_plain_path(dp):
    dp.session.info[FAST_PATHS] = True
    try:
        with pytest.raises(ApiError) as err:  # never on duty: no row for the one statement
            agents.report_position(dp.session, clock=dp.clock, principal=principal(dp, "d3"), config=CONFIG,
                                   lat=30.74, lon=121.34)
        assert err.value.code == "agent_off_duty"
    finally:
        dp.session.info.pop(FAST_PATHS, None)
