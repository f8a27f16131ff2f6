"""smart-village: villagers are told of a new notice through the outbox (an important one asks
them to confirm), nobody outside the village is; the demo data covers the 10 reference villages,
idempotently; a village's area is its polygon when it has one, else its circle."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from app.notify.models import OutboxMessage
from app.places.areas import AreaError, parse_area, village_area
from auth.models import Residence
from tests.support.factories import bearer, make_resident, make_staff, place_world, token_for

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")
BASE = "/api/v1/smart-village"


def test_a_new_notice_is_sent_to_each_villager_once(client, session, clock):
    world = place_world(session)
    committee = make_staff(session, world.village_committees[0], "committee")
    villagers = [make_resident(session, name=n) for n in ("张村民", "李村民")]
    moved_out, outsider = make_resident(session, name="赵搬走"), make_resident(session, name="王外人")
    for who in villagers:
        session.add(Residence(person_id=who.person_id, village_id=world.village.id, house_number=3,
                              valid_from=date(2020, 1, 1), status="verified"))
    session.add(Residence(person_id=moved_out.person_id, village_id=world.village.id, house_number=4,
                          valid_from=date(2020, 1, 1), valid_to=date(2021, 1, 1), status="verified"))
    session.add(Residence(person_id=outsider.person_id, village_id=world.village2.id, house_number=4,
                          valid_from=date(2020, 1, 1), status="verified"))
    session.commit()
    headers = {**bearer(token_for(session, clock, committee, world.village_committees[0])),
               "Idempotency-Key": "sv-notify-0001"}
    url = f"{BASE}/villages/{world.village.code}/notices"
    body = {"kind": "finance", "title": "本季度村级财务收支公开", "body": "收入 12 万元。", "important": True}
    first = client.post(url, json=body, headers=headers)
    assert first.status_code == 201
    assert client.post(url, json=body, headers=headers).get_json()["id"] == first.get_json()["id"]  # replayed
    plain = client.post(url, json={**body, "kind": "notice", "title": "停水通知", "important": False},
                        headers={**headers, "Idempotency-Key": "sv-notify-0002"}).get_json()["id"]
    rows = session.execute(sa.select(OutboxMessage).where(OutboxMessage.template == "village_notice")
                           .order_by(OutboxMessage.id)).scalars().all()
    assert [(r.event_key, int(r.recipient_id)) for r in rows] == [
        (f"smart_village.notice:{first.get_json()['id']}", villagers[0].id),
        (f"smart_village.notice:{first.get_json()['id']}", villagers[1].id),
        (f"smart_village.notice:{plain}", villagers[0].id), (f"smart_village.notice:{plain}", villagers[1].id)]
    assert {r.channel for r in rows} == {"wechat"}
    assert rows[0].payload["ask"] == "请阅读并确认" and rows[2].payload["ask"] == "请阅读"
    assert rows[0].payload["kind"] == "财务公开" and rows[0].payload["notice_id"] == first.get_json()["id"]


def test_demo_data_for_the_ten_villages(app, session, clock, client):
    from app.places.models import Village
    from auth.models import Account
    from scenarios.smart_village.demo import load
    from scenarios.smart_village.models import SvNotice, SvReceipt

    with app.app_context():
        assert load(session, clock) == {"smart_village_villages": 10}
        assert load(session, clock) == {"smart_village_villages": 0}  # idempotent
    session.commit()
    assert session.scalar(sa.select(sa.func.count()).select_from(SvNotice)) == 40
    assert {k for (k,) in session.execute(sa.select(SvNotice.kind).distinct())} == {
        "notice", "finance", "project", "decision"}
    assert session.scalar(sa.select(sa.func.count()).select_from(SvReceipt)
                          .where(SvReceipt.confirmed_at.is_not(None))) == 10
    xinghuo = session.scalar(sa.select(Village).where(Village.name == "星火村"))
    villager = session.scalar(sa.select(Account).join(Residence, Residence.person_id == Account.person_id).where(
        Residence.village_id == xinghuo.id, Residence.house_number == 2))
    seen = client.get(f"{BASE}/villages/{xinghuo.code}/notices", headers=bearer(token_for(session, clock, villager)))
    assert seen.status_code == 200 and seen.get_json()["total"] == 4
    assert [n["confirmed"] for n in seen.get_json()["items"] if n["important"]] == [True]


class _Place:
    def __init__(self, attributes):
        self.lat, self.lon, self.attributes = 30.756, 121.264, attributes


def test_a_village_area_is_its_polygon_or_its_circle():
    square = {"polygon": [[121.26, 30.75], [121.27, 30.75], [121.27, 30.76], [121.26, 30.76]]}
    area = village_area(_Place({"area": square}))
    assert area.contains(30.755, 121.265) and not area.contains(30.765, 121.265)
    assert area.bbox() == (30.75, 121.26, 30.76, 121.27)
    circle = village_area(_Place({"area": {"radius_m": 500}}))
    assert circle.contains(30.76, 121.264) and not circle.contains(30.761, 121.264)  # 445 m, 556 m north
    assert village_area(_Place({})).contains(30.769, 121.264)  # the default 1,500 m circle
    assert not circle.contains(None, 121.264) and not circle.contains(float("nan"), 121.264)
    assert parse_area({"radius_m": 800}) == {"radius_m": 800} and parse_area(None) is None
    for bad in ({"radius_m": 0}, {"radius_m": True}, {"radius_m": 50_000}, {"polygon": [[1, 2], [1, 2], [3, 4]]},
                {"polygon": [[200, 30], [121, 30], [121, 31]]}, {"circle": 3}, {"radius_m": 5, "polygon": []}):
        with pytest.raises(AreaError):
            parse_area(bad)


def test_the_summary_counts_rental_from_rural_rental_and_tickets_inside_a_polygon(client, session, clock):
    """The summary's rental figures come from rural-rental's provider (houses by state, beds of
    approved houses, tenants of current approved tenancies); a ticket without a house counts when
    its point lies inside the village's polygon, not merely near the centre."""
    from datetime import timedelta

    from auth.devices import create_device
    from auth.principal import Principal
    from scenarios.engines.workflow import service as wf_service
    from scenarios.rural_rental.models import RrHouse, RrRoom, RrTenancy
    from tests.engines.workflow.scenario import CONFIG
    from tests.support.factories import basic

    world = place_world(session)
    village = world.village
    # a thin polygon east of the centre: 1 km long, 100 m wide
    village.attributes = {**(village.attributes or {}), "area": {"polygon": [
        [village.lon, village.lat - 0.0005], [village.lon + 0.0104, village.lat - 0.0005],
        [village.lon + 0.0104, village.lat + 0.0005], [village.lon, village.lat + 0.0005]]}}
    landlord = make_resident(session, name="王房东")
    today = clock.now().date()
    for number, state, limits in ((1, "approved", (2, 1)), (2, "approved", (3,)), (3, "registered", (4,))):
        house = RrHouse(village_id=village.id, house_number=number, landlord_account_id=landlord.id,
                        landlord_person_id=landlord.person_id, address=f"{number}号", lat=village.lat,
                        lon=village.lon, state=state, green=False, created_at=clock.now())
        session.add(house)
        session.flush()
        rooms = [RrRoom(house_id=house.id, label=f"{i}", area_m2=10, rent_fen=50_000, occupancy_limit=n,
                        facilities=[]) for i, n in enumerate(limits)]
        session.add_all(rooms)
        session.flush()
        if number == 1:
            for persons, starts, ends, st in ((2, -10, 30, "approved"), (1, -10, 30, "pending"),
                                              (1, -40, -1, "approved"), (1, 5, 40, "approved")):
                session.add(RrTenancy(room_id=rooms[0].id, house_id=house.id, village_id=village.id,
                                      tenant_person_ids=[], persons=persons, starts_on=today + timedelta(days=starts),
                                      ends_on=today + timedelta(days=ends), state=st, created_at=clock.now()))
    reporter = make_resident(session, name="李村民")
    session.add(Residence(person_id=reporter.person_id, community_id=world.community.id,
                          building_id=world.community.buildings[0].id, room="302", valid_from=date(2020, 1, 1),
                          status="verified"))
    session.flush()
    principal = Principal("resident", account_id=reporter.id, person_id=reporter.person_id)
    for dlat, dlon in ((0.0, 0.009), (0.004, 0.0)):  # inside the strip 860 m east; 445 m north: outside
        ticket = wf_service.create(session, clock=clock, principal=principal, config=CONFIG, data={
            "category": "水电", "text": "路灯坏了", "community_code": world.community.code}).ticket
        ticket.community_id, ticket.building_id, ticket.room = None, None, None
        ticket.lat, ticket.lon = village.lat + dlat, village.lon + dlon
    screen, secret = create_device(session, org=world.village_committees[0], kind="kiosk", name="村委会大屏")
    session.commit()
    summary = client.get(f"{BASE}/villages/{village.code}/summary", headers=basic(screen.uid, secret)).get_json()
    assert summary["rental"] == {"houses": {"approved": 2, "registered": 1}, "beds": 6, "tenants": 2}
    assert summary["open_tickets"] == 1
