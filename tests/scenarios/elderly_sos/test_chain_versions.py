"""elderly-sos's escalation chain changed by a district administrator (``app.chains``): an
alarm raised after the change follows the new version, one raised before keeps the declared
chain; a version that would leave the old person waiting for nobody is refused
(``escalation_chain_unsafe``); with two workers on PostgreSQL each step of a version fires
exactly once, in order, its repeats included."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app import chains
from app.clock import FrozenClock
from app.notify.models import OutboxMessage
from app.timers import Timer
from app.worker import Worker
from scenarios.elderly_sos.models import SosAlarm, SosAlarmEvent
from scenarios.elderly_sos.policy import TERMS
from tests.support.database import backend

CHAINS = "/api/v1/admin/escalation-chains"
CONTACTS_FIRST = [
    {"name": "contacts_first", "after_seconds": 0, "since": "start", "recipients": [{"supplied": "contacts"}],
     "channels": ["sms", "wechat"]},
    {"name": "committee", "after_seconds": 60, "recipients": [{"of": "committee", "roles": ["committee"]}]},
    {"name": "supervisor", "after_seconds": 120, "recipients": [{"of": "call_centre", "roles": ["manager"]},
                                                                {"of": "supervisor", "roles": ["supervisor"]}],
     "instruction": "call_120", "repeat_seconds": 240},
]


def steps(sos, alarm_id: int) -> list[str]:
    return [e.data["step"] for e in sos.trail(alarm_id, "escalated")]


def post(sos, steps_: list, *, who: str = "admin", reason: str = "先通知家属", path: str = "/versions"):
    body = {"chain": "elderly-sos", "steps": steps_, **({"reason": reason} if path == "/versions" else {})}
    return sos.client.post(f"{CHAINS}{path}", json=body, headers=sos.headers(who))


def test_alarms_raised_after_a_new_version_follow_it_and_earlier_ones_keep_theirs(sos):
    sos.on_duty("op1")
    before = sos.press()["id"]
    sos.tick(60)  # its acknowledgement missed: the declared chain's first step
    resp = post(sos, CONTACTS_FIRST)
    assert resp.status_code == 201, resp.get_json()
    sos.tick(121)  # the declared chain's second step for the first alarm; past the merge window
    after = sos.press()["id"]
    assert after != before and (sos.alarm(before).chain_version, sos.alarm(after).chain_version) == (0, 1)
    sos.tick(60)  # the new alarm's acknowledgement missed: its contacts first
    assert steps(sos, after) == ["contacts_first"]
    told = {(o[1], o[3]) for o in sos.outbox(after, "sos_escalated")}
    assert {("sms", sos.id("daughter")), ("wechat", sos.id("daughter"))} <= told
    assert ("account", sos.id("op2")) not in {(o[2], o[3]) for o in sos.outbox(after, "sos_escalated")}
    sos.tick(60)
    sos.tick(120)
    assert steps(sos, after) == ["contacts_first", "committee", "supervisor"]
    assert steps(sos, before) == ["other_operators", "contacts", "committee"]
    assert [e.data["version"] for e in sos.trail(after, "escalated")] == [1, 1, 1]
    # The board shows the new alarm's next step from its own version: the repeat, 240 s on (the
    # declared chain's fourth step would be 480 s after the start, not 420).
    row = next(a for a in sos.call("GET", "cc_manager", "/alarms")["items"] if a["id"] == after)
    started = sos.alarm(after).chain_started_at
    assert datetime.fromisoformat(row["next_step_at"]) == started + timedelta(seconds=420)


@pytest.mark.parametrize("change,field", [
    ({0: {"after_seconds": 90}}, "steps.0.after_seconds"),  # the first step later than the 60 s limit
    ({2: {"repeat_seconds": None}}, "steps.2.repeat_seconds"),  # nobody is told again
    ({2: {"repeat_seconds": 3600}}, "steps.2.repeat_seconds"),  # told again only hourly
    ({2: {"recipients": [{"supplied": "contacts"}]}}, "steps.2.recipients"),  # the last round: contacts alone
    ({1: {"after_seconds": 3600}}, "steps.2.after_seconds"),  # the last step past the 30-minute arrival limit
])
def test_a_chain_without_a_human_in_the_loop_is_refused(sos, change, field):
    chain = [{**s, **change.get(n, {})} for n, s in enumerate(CONTACTS_FIRST)]
    for path in ("/preview", "/versions"):
        resp = post(sos, chain, path=path)
        assert resp.status_code == 422, resp.get_json()
        assert resp.get_json()["code"] == "escalation_chain_unsafe" and field in resp.get_json()["errors"]
    assert sos.session.scalar(sa.select(sa.func.count()).select_from(chains.EscalationChain)) == 0


def test_sos_names_only_its_own_organisations_and_roles(sos):
    bad = [{**CONTACTS_FIRST[0], "recipients": [{"of": "owner", "roles": ["manager"]}]}, *CONTACTS_FIRST[1:]]
    resp = post(sos, bad)
    assert (resp.status_code, resp.get_json()["code"]) == (422, "escalation_chain_invalid")
    assert "steps.0.recipients" in resp.get_json()["errors"]
    for who in ("cc_manager", "civil", "member", "granny"):
        assert post(sos, CONTACTS_FIRST, who=who).status_code == 403


# ---------------------------------------------------------------- PostgreSQL: two workers


@pytest.mark.skipif(backend() != "postgresql", reason="needs PostgreSQL (row locks, SKIP LOCKED)")
def test_two_workers_fire_each_step_of_a_version_once_in_order(committed_db, _app):
    from tests.scenarios.elderly_sos.test_faults import build, raise_alarms

    with _app.app_context():
        world = build(committed_db, operators=2, people=12)
    version = [{"name": "operators", "after_seconds": 0, "since": "start",
                "recipients": [{"of": "call_centre", "roles": ["operator"]}]},
               {"name": "committee", "after_seconds": 30, "recipients": [{"of": "committee", "roles": ["committee"]}]},
               {"name": "again", "after_seconds": 30, "recipients": [{"of": "call_centre", "roles": ["operator"]}],
                "repeat_seconds": 60}]
    pressed = FrozenClock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
    with committed_db.transaction() as s:
        chains.set_chain(s, TERMS, steps=version, reason="两进程测试", now=pressed.now(), actor_account_id=None,
                         acting_org_id=None)
    alarm_ids = raise_alarms(committed_db, _app, world, pressed)
    # Steps due at +60 (the missed limit), +90, +120, then repeats at +180, +240; +300 is not yet due.
    clock = FrozenClock(pressed.now() + timedelta(seconds=250))
    start, errors = threading.Barrier(2), []

    def sweep(n: int) -> None:
        try:
            with _app.app_context():
                worker = Worker(committed_db, clock, worker_id=f"chain-w{n}", batch_size=3, periodic_jobs={})
                start.wait()
                for _ in range(15):
                    worker.run_once()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=sweep, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    with committed_db.transaction(write=False) as s:
        fired: dict[int, list[tuple[int, str]]] = {a: [] for a in alarm_ids}
        for alarm_id, data in s.execute(sa.select(SosAlarmEvent.alarm_id, SosAlarmEvent.data).where(
                SosAlarmEvent.alarm_id.in_(alarm_ids), SosAlarmEvent.action == "escalated").order_by(SosAlarmEvent.id)):
            fired[alarm_id].append((data["level"], data["step"]))
        keys = s.execute(sa.select(OutboxMessage.event_key, sa.func.count(sa.distinct(OutboxMessage.recipient_id)))
                         .where(OutboxMessage.template == "sos_escalated").group_by(OutboxMessage.event_key)).all()
        versions = set(s.scalars(sa.select(SosAlarm.chain_version).where(SosAlarm.id.in_(alarm_ids))))
        pending = set(s.execute(sa.select(Timer.subject_id, Timer.level).where(
            Timer.kind == "elderly_sos.ack", Timer.state == "pending")).all())
    assert versions == {1}
    expected = [(1, "operators"), (2, "committee"), (3, "again"), (4, "again"), (5, "again")]
    assert fired == {a: expected for a in alarm_ids}  # each step once, in order, none skipped
    assert len(keys) == 5 * len(alarm_ids)  # one notice per step and alarm (the unique key)
    assert {level for _, level in pending} == {6}  # the next repeat waits for its time
