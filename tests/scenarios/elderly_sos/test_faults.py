"""elderly-sos under faults, on PostgreSQL with real commits and real processes:

- a worker killed (SIGKILL) in the middle of a batch of escalation steps: the batch under way
  vanishes with its transaction, and the next worker does each due step exactly once (none
  repeated, none skipped);
- two operators acknowledging one alarm at the same instant through gunicorn (real HTTP, two
  worker processes): one wins, the other is told 409 ``already_taken``; ten trials.

(The SMS provider down, no operator on duty and a person with no contact who has a phone are
in ``test_sms_down.py`` and ``test_alarms.py``, which run on SQLite and again on PostgreSQL.)
"""
from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.clock import FrozenClock, SystemClock
from app.notify.models import OutboxMessage
from app.timers import Timer
from auth.models import Account, Membership, Person
from auth.organisations import Organisation
from auth.principal import Principal
from scenarios.elderly_sos import CONFIG
from scenarios.elderly_sos.alarms import raise_alarm
from scenarios.elderly_sos.models import SosAlarm, SosAlarmEvent, SosContact, SosEnrolment
from scenarios.elderly_sos.places import CALL_CENTRE
from scenarios.engines.dispatch.models import DispatchAgent
from tests.support.database import backend
from tests.support.factories import bearer, token_for
from tests.support.gunicorn import post_json, serve
from tests.support.worker_processes import start_worker, wait_for

pytestmark = pytest.mark.skipif(backend() != "postgresql", reason="needs PostgreSQL (row locks, SKIP LOCKED)")
BASE = "/api/v1/elderly-sos"


@dataclass
class World:
    centre_id: int
    operators: list[int] = field(default_factory=list)
    people: list[Principal] = field(default_factory=list)


def build(db, *, operators: int, people: int) -> World:
    """Operators on duty at the reference call centre; enrolled people (86) of a reference
    committee, each with one contact who has a phone."""
    tag = uuid.uuid4().hex[:8]
    now = datetime.now(UTC)
    with db.transaction() as s:
        centre = s.scalar(sa.select(Organisation).where(Organisation.code == CALL_CENTRE))
        committee = s.scalar(sa.select(Organisation).where(Organisation.type == "neighbourhood_committee")
                             .order_by(Organisation.id).limit(1))
        world = World(centre.id)
        for k in range(operators):
            op = Account(kind="staff", username=f"sos-{tag}-op{k}", password_hash="-", status="active")
            s.add(op)
            s.flush()
            s.add(Membership(account_id=op.id, organisation_id=centre.id, role="operator", status="active"))
            s.add(DispatchAgent(scenario=CONFIG.slug, account_id=op.id, org_id=centre.id, on_duty=True,
                                outside_area=False, available_since=now, details={}, updated_at=now))
            world.operators.append(op.id)
        for n in range(people):
            person = Person(real_name_level="verified", birth_date=date(1940, 3, 15))
            s.add(person)
            s.flush()
            account = Account(kind="dev", openid=f"sos-{tag}-{n}", person_id=person.id, status="active")
            s.add(account)
            s.flush()
            enrolment = SosEnrolment(person_id=person.id, committee_org_id=committee.id,
                                     enrolled_by_account_id=world.operators[0], hukou_shanghai=True,
                                     lives_alone=True, address=f"测试路{n}号", state="active", created_at=now,
                                     updated_at=now)
            s.add(enrolment)
            s.flush()
            s.add(SosContact(enrolment_id=enrolment.id, position=1, relation="neighbour", name="邻居",
                             phone=f"139{n:08d}", may_alarm=False))
            world.people.append(Principal("resident", account_id=account.id, person_id=person.id))
    return world


def raise_alarms(db, app, world: World, pressed: FrozenClock) -> list[int]:
    """An alarm of each of the world's people, pressed at ``pressed``; only the escalation steps
    are left to the worker (deliveries and the calls' next rounds cancelled)."""
    with app.app_context(), db.transaction() as s:  # the app: the keyring for the encrypted columns
        ids = [raise_alarm(s, clock=pressed, principal=person, config=CONFIG)[0].id for person in world.people]
        s.execute(sa.update(Timer).where(Timer.kind.in_(("notify.deliver", "dispatch.offer_timeout")))
                  .values(state="cancelled"))
    return ids


@pytest.fixture
def procs() -> Iterator[list]:
    started: list = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
            p.wait(10)


def levels(db, alarm_ids: list[int]) -> dict[int, list[int]]:
    with db.transaction(write=False) as s:
        rows = s.execute(sa.select(SosAlarmEvent.alarm_id, SosAlarmEvent.data)
                         .where(SosAlarmEvent.alarm_id.in_(alarm_ids), SosAlarmEvent.action == "escalated")
                         .order_by(SosAlarmEvent.id)).all()
    out: dict[int, list[int]] = {a: [] for a in alarm_ids}
    for alarm_id, data in rows:
        out[alarm_id].append(data["level"])
    return out


def stepped(db, alarm_ids: list[int]) -> int:
    with db.transaction(write=False) as s:
        return s.scalar(sa.select(sa.func.count()).select_from(SosAlarm)
                        .where(SosAlarm.id.in_(alarm_ids), SosAlarm.chain_level >= 1)) or 0


@pytest.mark.slow
def test_a_worker_killed_mid_escalation_leaves_each_step_to_the_next_worker_once(committed_db, database_url, procs,
                                                                              tmp_path: Path, _app):
    with _app.app_context():  # the keyring for the encrypted columns
        world = build(committed_db, operators=2, people=8)
    pressed = FrozenClock(datetime.now(UTC) - timedelta(seconds=70))  # acknowledgement missed 10 s ago
    alarm_ids = raise_alarms(committed_db, _app, world, pressed)
    doomed = start_worker(procs, database_url, tmp_path, "doomed", "--batch-size", "3",
                          module="tests.support.slow_worker_main", TEST_SLOW_KINDS="elderly_sos.ack",
                          TEST_HANDLER_MODULES="scenarios.elderly_sos.chain", TEST_HANDLER_DELAY="0.25")
    wait_for(lambda: stepped(committed_db, alarm_ids) >= 3, "the first batch", procs=[doomed], timeout=60)
    time.sleep(0.3)  # inside the second batch (3 × 0.25 s)
    doomed.kill()
    doomed.wait(10)
    assert stepped(committed_db, alarm_ids) in (3, 6)  # whole batches: the one under way rolled back

    rescuer = start_worker(procs, database_url, tmp_path, "rescuer", "--once")
    assert rescuer.wait(60) == 0
    assert levels(committed_db, alarm_ids) == {a: [1] for a in alarm_ids}  # each step once, none skipped
    with committed_db.transaction(write=False) as s:
        assert set(s.scalars(sa.select(SosAlarm.chain_level).where(SosAlarm.id.in_(alarm_ids)))) == {1}
        told = s.execute(sa.select(OutboxMessage.event_key, sa.func.count(sa.distinct(OutboxMessage.recipient_id)))
                         .where(OutboxMessage.template == "sos_escalated").group_by(OutboxMessage.event_key)).all()
        # Each alarm's level 1 told the call centre's two operators (WeCom, then SMS when WeCom fails).
        assert sorted(told) == sorted((f"sos:{a}:esc:ack:1", 2) for a in alarm_ids)
        pending = s.execute(sa.select(Timer.subject_id, Timer.level).where(
            Timer.kind == "elderly_sos.ack", Timer.state == "pending")).all()
    assert {lv for _, lv in pending} == {2, 3, 4}  # the next steps still wait for their time


def _accept(url: str, headers: dict[str, str], n: int, start: threading.Barrier, answers: list) -> None:
    start.wait()
    answers.append((n, *post_json(url, {}, headers)))


@pytest.mark.slow
def test_two_operators_acknowledging_at_once_through_gunicorn_one_wins(committed_db, database_url, tmp_path, _app):
    with _app.app_context():
        world = build(committed_db, operators=2, people=10)
    clock = SystemClock()
    with _app.app_context(), committed_db.transaction() as s:  # the app for the signing keys
        centre = s.get(Organisation, world.centre_id)
        operators = [bearer(token_for(s, clock, s.get(Account, a), centre)) for a in world.operators]
    with serve(database_url, tmp_path / "gunicorn.log", workers=2, threads=2) as base:
        for trial, person in enumerate(world.people):
            with _app.app_context(), committed_db.transaction() as s:
                alarm = raise_alarm(s, clock=clock, principal=person, config=CONFIG)[0]
                alarm_id, job_id = alarm.id, alarm.job_id
            start = threading.Barrier(2)
            answers: list = []
            threads = [threading.Thread(target=_accept, args=(f"{base}{BASE}/calls/{job_id}/accept", operators[n],
                                                              n, start, answers)) for n in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert sorted((status, body.get("code")) for _, status, body in answers) == [
                (200, None), (409, "already_taken")], (trial, answers)
            winner = next(n for n, status, _ in answers if status == 200)
            with committed_db.transaction(write=False) as s:
                row = s.get(SosAlarm, alarm_id)
                acks = s.scalar(sa.select(sa.func.count()).select_from(SosAlarmEvent).where(
                    SosAlarmEvent.alarm_id == alarm_id, SosAlarmEvent.action == "acknowledged"))
            assert row.state == "acknowledged" and row.acknowledged_by_account_id == world.operators[winner]
            assert acks == 1
            status, body = post_json(f"{base}{BASE}/alarms/{alarm_id}/close", {"outcome": "false_alarm"},
                                     operators[winner])
            assert status == 200 and body["state"] == "closed", body
