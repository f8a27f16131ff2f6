"""smart-village: an important notice's follow-up through the worker. Villagers who have not
confirmed are reminded 24 h and 72 h after publication (each once; one who confirmed is not; one who
read without confirming is), the committee is told at 96 h how many have not, and sees who (names
masked, by house number) at ``/notices/<id>/unconfirmed``; a plain notice has no follow-up.
The PostgreSQL race (four workers at once, each message once): test_confirmation_race.py."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.notify.models import OutboxMessage
from app.timers import Timer
from app.worker import Worker
from auth.models import Residence
from tests.support.factories import bearer, make_resident, make_staff, place_world, token_for

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")
BASE = "/api/v1/smart-village"


@pytest.fixture
def v(app, session, clock):
    world = place_world(session)
    committee = make_staff(session, world.village_committees[0], "committee")
    people = {n: make_resident(session, name=n) for n in ("张村民", "李村民", "赵村民")}
    second = make_resident(session, name=None)  # 赵村民's second account (the same person)
    second.person_id = people["赵村民"].person_id
    for number, account in enumerate(people.values(), start=3):
        session.add(Residence(person_id=account.person_id, village_id=world.village.id, house_number=number,
                              valid_from=date(2020, 1, 1), status="verified"))
    other = make_staff(session, world.village_committees[1], "committee")
    session.commit()
    who = {**{n: (a, None) for n, a in people.items()}, "second": (second, None),
           "committee": (committee, world.village_committees[0]), "other": (other, world.village_committees[1])}

    class Heads(dict):
        def __missing__(self, name):  # a fresh token at the clock's time (the tests move it by days)
            return bearer(token_for(session, clock, *who[name]))

    return world, people, second, Heads()


def sent(session, template):
    return session.execute(sa.select(OutboxMessage.event_key, OutboxMessage.recipient_id).where(
        OutboxMessage.template == template).order_by(OutboxMessage.id)).all()


def run(db, clock):
    return Worker(db, clock, worker_id="sv-test", periodic_jobs={}).run_once()


def test_reminders_at_24_and_72_hours_then_the_committee(client, v, db, clock, session):
    world, people, second, h = v
    url = f"{BASE}/villages/{world.village.code}/notices"
    published = clock.now()
    body = {"kind": "decision", "title": "村道拓宽征求意见", "body": "请确认。", "important": True}
    nid = client.post(url, json=body, headers=h["committee"]).get_json()["id"]
    plain = client.post(url, json={"kind": "notice", "title": "停水", "body": "周三停水。"},
                        headers=h["committee"]).get_json()["id"]
    assert session.scalar(sa.select(sa.func.count()).select_from(Timer).where(
        Timer.subject_type == "sv_notice", Timer.subject_id == str(plain))) == 0
    client.post(f"{BASE}/notices/{nid}/confirm", headers=h["张村民"])
    client.get(f"{BASE}/notices/{nid}", headers=h["李村民"])  # read, not confirmed
    clock.set(published + timedelta(hours=23, minutes=59))
    run(db, clock)
    assert sent(session, "village_notice")[-1].event_key == f"smart_village.notice:{plain}"  # nothing yet
    clock.set(published + timedelta(hours=24, minutes=1))
    run(db, clock)
    run(db, clock)
    first = [r for r in sent(session, "village_notice") if r.event_key == f"smart_village.reminder:{nid}:1"]
    assert sorted(int(r.recipient_id) for r in first) == sorted(
        [people["李村民"].id, people["赵村民"].id, second.id])  # both of 赵村民's accounts
    client.post(f"{BASE}/notices/{nid}/confirm", headers=h["second"])  # 赵村民 confirms on the other account
    who = client.get(f"{BASE}/notices/{nid}/unconfirmed", headers=h["committee"]).get_json()
    assert who["items"] == [{"name": "李**", "house_number": 4, "read": True}] and who["total"] == 1
    assert client.get(f"{BASE}/notices/{nid}", headers=h["committee"]).get_json()["unconfirmed"] == 1
    clock.set(published + timedelta(hours=72, minutes=1))
    run(db, clock)
    second_round = [r for r in sent(session, "village_notice") if r.event_key == f"smart_village.reminder:{nid}:2"]
    assert [int(r.recipient_id) for r in second_round] == [people["李村民"].id]
    assert sent(session, "village_notice_unconfirmed") == []
    clock.set(published + timedelta(hours=96, minutes=1))
    run(db, clock)
    run(db, clock)
    told = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.template == "village_notice_unconfirmed")).all()
    assert [(m.recipient_kind, int(m.recipient_id), m.payload["unconfirmed"]) for m in told] == [
        ("org", world.village_committees[0].id, 1)]
    assert "李" not in str(told[0].payload)  # a count, no names


def test_who_sees_the_unconfirmed_list(client, v, clock):
    world, _, _, h = v
    url = f"{BASE}/villages/{world.village.code}/notices"
    nid = client.post(url, json={"kind": "finance", "title": "财务公开", "body": "收支。", "important": True},
                      headers=h["committee"]).get_json()["id"]
    plain = client.post(url, json={"kind": "notice", "title": "通知", "body": "正文。"},
                        headers=h["committee"]).get_json()["id"]
    everyone = client.get(f"{BASE}/notices/{nid}/unconfirmed", headers=h["committee"]).get_json()
    assert [x["house_number"] for x in everyone["items"]] == [3, 4, 5] and not any(x["read"] for x in everyone["items"])
    assert client.get(f"{BASE}/notices/{nid}/unconfirmed", headers=h["other"]).status_code == 404
    assert client.get(f"{BASE}/notices/{nid}/unconfirmed", headers=h["张村民"]).status_code == 403
    not_important = client.get(f"{BASE}/notices/{plain}/unconfirmed", headers=h["committee"])
    assert not_important.status_code == 409 and not_important.get_json()["code"] == "notice_not_important"
    assert client.get(f"{BASE}/notices/{plain}", headers=h["committee"]).get_json()["unconfirmed"] is None
