"""A workflow scenario's escalation chain as data (``WorkflowConfig.escalation``): three steps,
the second on two channels with an instruction, the last repeating until someone acts; each
level fires once and is recorded with its step; an answer stops the repeats."""
from __future__ import annotations

from dataclasses import replace

import pytest
import sqlalchemy as sa

from app.escalation import Policy, Roles, Step, Supplied
from app.notify.models import OutboxMessage
from app.notify.service import Recipient
from scenarios.engines.workflow import config as wf_config
from tests.engines.workflow.scenario import CONFIG, SLUG
from tests.support.workflow import act, events, outbox, report, run_worker, timers_of

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")


def _reporter(session, ticket) -> list[Recipient]:
    return [Recipient("org", 999999)] if ticket is not None else []


POLICY = Policy((
    Step("managers", (Roles("owner", ("manager",)),), after=0, since="start"),
    Step("bureau", (Roles("owner_supervisor", ("supervisor",)), Supplied("someone", _reporter)), after=600,
         channels=("log", "sms"), instruction="call_back"),
    Step("again", (Roles("owner", ("manager",)),), after=None, repeat=3600),
))


@pytest.fixture
def chained(monkeypatch):
    monkeypatch.setitem(wf_config.CONFIGS, SLUG, replace(CONFIG, escalation=POLICY, extra={}))


def levels(session, tid):
    return [(e.data["level"], e.data.get("instruction")) for e in events(session, tid, "escalate")]


def test_steps_fire_in_order_each_once_and_the_last_repeats(chained, client, wf, clock, db, session):
    tid = report(client, wf)["id"]
    assert sorted(k for k in timers_of(session, tid) if k[0] == "workflow.response") == [
        ("workflow.response", 1), ("workflow.response", 2), ("workflow.response", 3)]
    clock.advance(minutes=30)
    run_worker(db, clock)
    clock.advance(minutes=10)
    run_worker(db, clock)
    run_worker(db, clock)
    assert levels(session, tid) == [(1, None), (2, "call_back")]
    level2 = [(m[1], m[2]) for m in outbox(session, tid, "wf.escalated")][1:]
    assert ("account", str(wf.id("supervisor"))) in level2 and ("org", "999999") in level2
    channels = set(session.scalars(sa.select(OutboxMessage.channel).where(
        OutboxMessage.event_key == f"wf:{tid}:esc:0:2")))
    assert channels == {"log", "sms"}

    clock.advance(minutes=30)  # level 3: one target after level 2
    run_worker(db, clock)
    assert [lv for lv, _ in levels(session, tid)] == [1, 2, 3]
    assert timers_of(session, tid)[("workflow.response", 4)][0] == "pending"
    clock.advance(minutes=59)
    run_worker(db, clock)
    assert [lv for lv, _ in levels(session, tid)] == [1, 2, 3]
    clock.advance(minutes=1)
    run_worker(db, clock)
    assert [lv for lv, _ in levels(session, tid)] == [1, 2, 3, 4]

    act(client, wf, "manager_a", tid, "acknowledge")
    assert timers_of(session, tid)[("workflow.response", 5)][0] == "cancelled"
    clock.advance(hours=5)
    run_worker(db, clock)
    assert [lv for lv, _ in levels(session, tid)] == [1, 2, 3, 4]
