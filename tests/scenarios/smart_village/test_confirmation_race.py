"""An important notice's follow-up with four workers at once on PostgreSQL (real commits): the
worker was away for four days, so the 24 h and 72 h reminders and the committee's notice are all
due; each fires once (``FOR UPDATE SKIP LOCKED``), each villager who has not confirmed gets one
reminder per level, the one who confirmed none, the committee one message, no timer retried.

Built on the reference village 星火村 (committed tests add no reference rows)."""
from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from app.clock import FrozenClock
from app.notify.models import OutboxMessage
from app.places.models import Village
from app.timers import Timer
from app.worker import Worker
from auth.models import Residence
from auth.organisations import Organisation
from auth.principal import Principal
from scenarios.smart_village import service as svc
from tests.support.database import backend
from tests.support.factories import make_resident, make_staff

pytestmark = pytest.mark.skipif(backend() != "postgresql", reason="needs PostgreSQL (row locks, SKIP LOCKED)")
VILLAGE = "310116109-v-xinghuo"


def test_four_workers_send_each_reminder_once(committed_db, _app, caplog):
    published = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    clock = FrozenClock(published)
    stand_in = Flask("smart-village-race")  # the app's keys (names are encrypted), not its test-bound db
    stand_in.extensions = _app.extensions
    with stand_in.app_context(), committed_db.transaction() as s:
        village = s.scalar(sa.select(Village).where(Village.code == VILLAGE))
        committee = s.get(Organisation, village.committee_id)
        member = make_staff(s, committee, "committee")
        villagers = [make_resident(s, name=f"竞争村民{i}") for i in range(6)]
        for i, v in enumerate(villagers):
            s.add(Residence(person_id=v.person_id, village_id=village.id, house_number=98_000 + i,
                            valid_from=date(2020, 1, 1), status="verified"))
        s.flush()
        notice = svc.publish(s, clock=clock, principal=Principal(
            "staff", account_id=member.id, org_id=committee.id, org_code=committee.code, org_type=committee.type,
            role="committee"), village=village, data={"kind": "decision", "title": "竞争测试通知", "body": "请确认",
                                                      "important": True})
        svc.confirm(s, clock=clock, principal=Principal("resident", account_id=villagers[0].id,
                                                        person_id=villagers[0].person_id), notice=notice)
        nid, ids = notice.id, [v.id for v in villagers]
        s.execute(sa.update(Timer).where(Timer.kind == "notify.deliver").values(state="fired"))
    late = FrozenClock(published + timedelta(hours=97))
    start, errors = threading.Barrier(4), []

    def sweep(n: int) -> None:
        try:
            worker = Worker(committed_db, late, worker_id=f"sv-race-{n}", batch_size=1, periodic_jobs={})
            start.wait()
            for _ in range(5):
                worker.run_once()
        except BaseException as exc:
            errors.append(exc)

    caplog.set_level("WARNING", logger="app.worker")
    threads = [threading.Thread(target=sweep, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and not any(t.is_alive() for t in threads), errors
    assert not [r for r in caplog.records if r.name == "app.worker"], [r.getMessage() for r in caplog.records]
    with committed_db.transaction(write=False) as s:
        rows = s.execute(sa.select(OutboxMessage.event_key, OutboxMessage.recipient_kind, OutboxMessage.recipient_id)
                         .where(OutboxMessage.event_key.in_([f"smart_village.reminder:{nid}:1",
                                                            f"smart_village.reminder:{nid}:2",
                                                            f"smart_village.unconfirmed:{nid}"]))).all()
        fired = s.execute(sa.select(Timer.level, Timer.state, Timer.attempts).where(
            Timer.subject_type == "sv_notice", Timer.subject_id == str(nid)).order_by(Timer.level)).all()
    by_key: dict[str, list[int]] = {}
    for key, _kind, rid in rows:
        by_key.setdefault(key, []).append(int(rid))
    for level in (1, 2):
        assert sorted(by_key[f"smart_village.reminder:{nid}:{level}"]) == ids[1:]  # once each; not who confirmed
    assert by_key[f"smart_village.unconfirmed:{nid}"] == [village.committee_id]
    assert [tuple(f) for f in fired] == [(1, "fired", 0), (2, "fired", 0), (3, "fired", 0)]
