"""No room over its occupancy limit and one decision per tenancy, under real concurrency on
PostgreSQL, through HTTP against gunicorn with several worker processes (the booking race's
server fixture).

- 12 pending tenancies of one person each, all overlapping, on a room for 2: twelve committee
  members of 星火村 approve them at once → exactly 2 approved, 10 answered 409
  ``room_over_occupancy``, nobody a 5xx; the room's approved tenancies hold 2 persons.
- One tenancy, 10 committee members approve it at once → one 200, nine 409
  ``application_state_changed``; one ``approve`` in its history.
"""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections import Counter
from datetime import date, timedelta

import sqlalchemy as sa
from flask import Flask

from app.clock import SystemClock
from app.places.models import Village
from auth.models import Residence
from auth.organisations import Organisation
from auth.principal import Principal
from scenarios.engines.approval.models import ApDecision
from scenarios.rural_rental import TENANCY
from scenarios.rural_rental import service as svc
from scenarios.rural_rental.models import RrHouse, RrRoom, RrTenancy
from tests.engines.booking.test_race import pg_only
from tests.support.factories import bearer, id_number, make_resident, make_staff, token_for

VILLAGE = "310116109-v-xinghuo"


def _world(db, app, *, tenancies: int, members: int) -> tuple[list[int], list[dict], int]:
    clock = SystemClock()
    stand_in = Flask("rural-rental-race")
    stand_in.extensions = app.extensions
    with stand_in.app_context(), db.transaction() as s:
        village = s.scalar(sa.select(Village).where(Village.code == VILLAGE))
        committee = s.get(Organisation, village.committee_id)
        landlord = make_resident(s, name="竞争房东", id_no=id_number("19600101"))
        s.add(Residence(person_id=landlord.person_id, village_id=village.id, house_number=99_001,
                        valid_from=date(2020, 1, 1), status="verified"))
        s.flush()
        lord = Principal("resident", account_id=landlord.id, person_id=landlord.person_id)
        house = svc.register_house(s, clock=clock, principal=lord, data={
            "village": VILLAGE, "house_number": 99_001, "address": "星火村竞争路 1 号",
            "rooms": [{"label": "101", "area_m2": 12.0, "rent_fen": 50_000, "occupancy_limit": 2}]})
        member = make_staff(s, committee, "committee")
        svc.inspect(s, clock=clock, principal=Principal("staff", account_id=member.id, org_id=committee.id,
                                                         org_code=committee.code, org_type=committee.type,
                                                         role="committee"),
                    config=svc_config(), house=house, data={"checklist": dict.fromkeys(svc.CHECKLIST, True)})
        room = s.scalar(sa.select(RrRoom).where(RrRoom.house_id == house.id))
        start = date.today() + timedelta(days=3)
        apps = []
        for i in range(tenancies):
            number = id_number("19900101", region="510104", seq=f"{i:03d}")
            make_resident(s, name=f"租客{i}", id_no=number)
            tenancy = svc.submit_tenancy(s, clock=clock, principal=lord, config=TENANCY, form={
                "room_id": room.id, "tenants": [number], "starts_on": start + timedelta(days=i % 3),
                "ends_on": start + timedelta(days=90)})
            apps.append(tenancy.application_id)
        headers = [bearer(token_for(s, clock, make_staff(s, committee, "committee"), committee))
                   for _ in range(members)]
        return apps, headers, room.id


def svc_config():
    from scenarios.rural_rental import CONFIG
    return CONFIG


def _race(base: str, pairs: list[tuple[int, dict]]) -> Counter:
    go = threading.Barrier(len(pairs))
    answers, lock = [], threading.Lock()

    def one(application_id: int, headers: dict) -> None:
        request = urllib.request.Request(  # noqa: S310 (our server)
            f"{base}/api/v1/rural-rental/applications/{application_id}/approve",
                                         data=b"{}", method="POST",
                                         headers={**headers, "Content-Type": "application/json"})
        go.wait()
        try:
            with urllib.request.urlopen(request, timeout=60) as resp:  # noqa: S310 (ours)
                result = (resp.status, None)
        except urllib.error.HTTPError as exc:
            result = (exc.code, json.loads(exc.read() or b"{}").get("code"))
        with lock:
            answers.append(result)

    threads = [threading.Thread(target=one, args=pair) for pair in pairs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(answers) == len(pairs)
    return Counter(answers)


@pg_only
def test_concurrent_approvals_never_put_a_room_over_its_limit(committed_db, _app, gunicorn):
    apps, headers, room_id = _world(committed_db, _app, tenancies=12, members=12)
    answers = _race(gunicorn, list(zip(apps, headers, strict=True)))
    assert answers == Counter({(200, None): 2, (409, "room_over_occupancy"): 10}), answers
    with committed_db.transaction(write=False) as s:
        persons = s.scalar(sa.select(sa.func.sum(RrTenancy.persons)).where(RrTenancy.room_id == room_id,
                                                                          RrTenancy.state == "approved"))
        assert persons == 2


@pg_only
def test_two_members_deciding_one_tenancy_make_one_decision(committed_db, _app, gunicorn):
    apps, headers, _ = _world(committed_db, _app, tenancies=1, members=10)
    answers = _race(gunicorn, [(apps[0], h) for h in headers])
    assert answers == Counter({(200, None): 1, (409, "application_state_changed"): 9}), answers
    with committed_db.transaction(write=False) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(ApDecision).where(
            ApDecision.application_id == apps[0], ApDecision.action == "approve")) == 1
        assert s.scalar(sa.select(RrHouse.state)) == "approved"
