"""place-checkin: places and posters for operators, check-ins by residents and sentinels, flow
counts, history, retention, demo data; across two operators."""
from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from app.fields import CST
from app.periodic import PERIODIC_JOBS
from auth.devices import create_device
from qr.models import QrPass, QrScan, QrSubject
from qr.service import issue_personal
from scenarios.place_checkin.kinds import PLACE_KINDS
from scenarios.place_checkin.models import Checkin, CheckinPlace, CheckinSentinel
from scenarios.registry import SCENARIOS
from tests.support.factories import (
    basic,
    bearer,
    count,
    id_number,
    make_org,
    make_resident,
    make_staff,
    mobile,
    token_for,
)
from tests.support.qr import read_qr

# For every test: an app context for the factories, and rate-limit counters reset before and after.
pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")

BASE = "/api/v1/place-checkin"
INSIDE = {"lat": 30.7419, "lon": 121.3416}  # 金山 centre
OUTSIDE = {"lat": 31.2304, "lon": 121.4737}  # 人民广场, Huangpu


class Operator:
    def __init__(self, session, clock, name: str) -> None:
        self.org = make_org(session, "venue_operator", name=name)
        manager, staff = make_staff(session, self.org, "manager"), make_staff(session, self.org, "staff")
        self.manager = bearer(token_for(session, clock, manager, self.org))
        self.staff = bearer(token_for(session, clock, staff, self.org))
        self.sentinel, secret = create_device(session, org=self.org, kind="sentinel", name="北门哨兵")
        self.sentinel_auth = basic(self.sentinel.uid, secret)
        self.gate, gate_secret = create_device(session, org=self.org, kind="gate", name="道闸")
        self.gate_auth = basic(self.gate.uid, gate_secret)


@pytest.fixture
def w(session, clock, keyring):
    a, b = Operator(session, clock, "甲运营"), Operator(session, clock, "乙运营")
    phone, id_no = mobile(), id_number()
    zhang = make_resident(session, name="张三丰", id_no=id_no, phone=phone, level="verified")
    li = make_resident(session, name="李四")
    company = make_org(session, "property_company")
    company_manager = make_staff(session, company, "manager")
    session.commit()

    class World:
        pass

    world = World()
    world.a, world.b, world.zhang, world.li, world.phone, world.id_no = a, b, zhang, li, phone, id_no
    world.zhang_auth = bearer(token_for(session, clock, zhang))
    world.li_auth = bearer(token_for(session, clock, li))
    world.company_manager = bearer(token_for(session, clock, company_manager, company))
    return world


def new_place(client, headers, **over):
    body = {"name": "万达广场", "kind": "shopping_mall", "address": "金山区龙航路 1 号", **INSIDE, **over}
    return client.post(f"{BASE}/places", json=body, headers=headers)


@pytest.fixture
def places(client, w):
    """One place of each operator."""
    pa = new_place(client, w.a.manager).get_json()
    pb = new_place(client, w.b.manager, name="乙超市", kind="supermarket").get_json()
    return pa, pb


def personal(session, clock, keyring, account) -> str:
    token = issue_personal(session, holder_type="person", holder_id=account.person_id, clock=clock,
                           keyring=keyring).token
    session.commit()
    return token


def checkins(session, **where) -> list[Checkin]:
    session.expire_all()
    return list(session.scalars(sa.select(Checkin).filter_by(**where).order_by(Checkin.id)))


def place_row(session, code: str) -> CheckinPlace:
    session.expire_all()
    return session.scalar(sa.select(CheckinPlace).where(CheckinPlace.code == code))


# ---------------------------------------------------------------- registry


def test_the_scenario_is_registered(client):
    (s,) = [s for s in SCENARIOS if s.slug == "place-checkin"]
    assert (s.title_zh, s.title_en, s.seed_refs, s.engines) == (
        "场所码 / 数字哨兵", "Place codes and digital sentinels", ("L2", "L7"), ("qr",))
    listed = client.get("/api/v1/scenarios").get_json()["items"]
    assert any(i["slug"] == "place-checkin" and i["base_path"] == BASE for i in listed)


def test_the_25_kinds(client):
    items = client.get(f"{BASE}/kinds").get_json()["items"]
    assert len(items) == 25 == len({i["kind"] for i in items})
    names = {i["name"] for i in items}
    assert {"住宅小区", "办公楼宇", "商场", "超市", "农贸市场", "体育场馆", "学校", "医疗机构", "公园", "景区",
            "宾馆", "餐饮", "公共交通"} <= names


# ---------------------------------------------------------------- places


def test_a_manager_registers_a_place_with_its_code(client, session, clock, keyring, w):
    r = new_place(client, w.a.manager)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["operator"] == w.a.org.code and body["kind_name"] == "商场" and body["active"] is True
    assert body["link"].startswith(keyring.config.place_link_prefix)
    row = place_row(session, body["code"])
    assert row.operator_id == w.a.org.id
    code = session.scalar(sa.select(QrPass).where(QrPass.ref == f"place:{body['code']}"))
    assert code.purpose == "place_checkin" and not code.single_use and code.holder_id == row.id
    # the same link again when read back
    assert client.get(f"{BASE}/places/{body['code']}", headers=w.a.staff).get_json()["link"] == body["link"]


def test_creating_places_needs_a_manager_and_a_valid_place(client, w):
    assert new_place(client, {}).status_code == 401
    assert new_place(client, w.zhang_auth).status_code == 403
    assert new_place(client, w.a.sentinel_auth).status_code == 403
    r = new_place(client, w.a.staff)
    assert r.status_code == 403 and r.get_json()["code"] == "forbidden"
    r = new_place(client, w.a.manager, **OUTSIDE)
    assert r.status_code == 422 and r.get_json()["code"] == "outside_district"
    r = new_place(client, w.a.manager, kind="spaceport")
    assert r.status_code == 422 and "kind" in r.get_json()["errors"]
    assert new_place(client, w.a.manager, name="").status_code == 422


def test_operators_see_only_their_own_places(client, w, places):
    pa, pb = places
    mine = client.get(f"{BASE}/places", headers=w.a.staff).get_json()
    assert [p["code"] for p in mine["items"]] == [pa["code"]] and mine["total"] == 1
    theirs = client.get(f"{BASE}/places", headers=w.b.manager).get_json()
    assert [p["code"] for p in theirs["items"]] == [pb["code"]]
    assert client.get(f"{BASE}/places?kind=supermarket", headers=w.a.staff).get_json()["total"] == 0
    for path in (f"/places/{pa['code']}", f"/places/{pa['code']}/poster", f"/places/{pa['code']}/flow",
                 f"/places/{pa['code']}/sentinels"):
        r = client.get(BASE + path, headers=w.b.manager)
        assert r.status_code == 404 and r.get_json()["code"] == "not_found", path
        assert client.get(BASE + path, headers=w.company_manager).status_code == 404, path
        assert client.get(BASE + path, headers=w.zhang_auth).status_code == 404, path  # a resident: not visible
        assert client.get(BASE + path).status_code == 401, path
        assert client.get(BASE + path, headers=w.a.staff).status_code == 200, path
    assert client.get(f"{BASE}/places/pl-doesnotexist", headers=w.a.staff).status_code == 404
    assert client.get(f"{BASE}/places", headers=w.zhang_auth).status_code == 403
    r = client.patch(f"{BASE}/places/{pa['code']}", json={"name": "新名"}, headers=w.b.manager)
    assert r.status_code == 404
    assert client.patch(f"{BASE}/places/{pa['code']}", json={"name": "新名"}, headers=w.a.staff).status_code == 403


def test_posters_png_and_svg(client, w, places):
    pa, _ = places
    png = client.get(f"{BASE}/places/{pa['code']}/poster", headers=w.a.staff)
    assert png.status_code == 200 and png.mimetype == "image/png" and png.data.startswith(b"\x89PNG")
    decoded = [x.text for x in read_qr(png.data)]
    assert decoded == [pa["link"]]
    svg = client.get(f"{BASE}/places/{pa['code']}/poster?format=svg", headers=w.a.staff)
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml" and "万达广场".encode() in svg.data
    assert client.get(f"{BASE}/places/{pa['code']}/poster?format=pdf", headers=w.a.staff).status_code == 422


# ---------------------------------------------------------------- residents check in


def test_a_resident_checks_in_with_the_link_or_the_bare_token(client, session, clock, keyring, w, places):
    pa, _ = places
    r = client.post(f"{BASE}/checkins", json={"code": pa["link"]}, headers=w.zhang_auth)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["place"]["code"] == pa["code"] and body["via"] == "resident_scan"
    token = pa["link"].removeprefix(keyring.config.place_link_prefix)
    clock.advance(minutes=5)
    assert client.post(f"{BASE}/checkins", json={"code": token}, headers=w.zhang_auth).status_code == 201
    rows = checkins(session, person_id=w.zhang.person_id)
    assert [(r.place_id, r.via) for r in rows] == [(place_row(session, pa["code"]).id, "resident_scan")] * 2
    # ids only: a check-in has no column for personal data
    assert set(Checkin.__table__.columns.keys()) == {"id", "place_id", "person_id", "via", "at"}
    # the QR layer's record of a resident's scan names no resident
    resident_scans = list(session.scalars(sa.select(QrScan).where(QrScan.scanner_kind == "resident")))
    assert len(resident_scans) == 2 and {s.scanner_id for s in resident_scans} == {None}


def test_check_in_refusals(client, session, clock, keyring, w, places):
    pa, _ = places
    cases = [
        ("https://evil.example/p/" + pa["link"].rsplit("/", 1)[1], 422, "qr_malformed"),
        (pa["link"] + "=", 422, "qr_malformed"),
        (personal(session, clock, keyring, w.li), 422, "qr_wrong_purpose"),
        ("garbage", 422, "qr_malformed"),
    ]
    for code, status, err in cases:
        r = client.post(f"{BASE}/checkins", json={"code": code}, headers=w.zhang_auth)
        assert (r.status_code, r.get_json()["code"]) == (status, err), code
    assert checkins(session) == []
    rejected = list(session.scalars(sa.select(QrScan.result).where(QrScan.scanner_kind == "resident")))
    assert "qr_wrong_purpose" in rejected  # rejections are recorded
    for headers, status in (({}, 401), (w.a.staff, 403), (w.a.sentinel_auth, 403)):
        assert client.post(f"{BASE}/checkins", json={"code": pa["link"]}, headers=headers).status_code == status


def test_closing_a_place_revokes_its_code_and_reopening_issues_a_new_one(client, session, w, places):
    pa, _ = places
    r = client.patch(f"{BASE}/places/{pa['code']}", json={"active": False}, headers=w.a.manager)
    assert r.status_code == 200 and r.get_json()["active"] is False and r.get_json()["link"] is None
    r = client.post(f"{BASE}/checkins", json={"code": pa["link"]}, headers=w.zhang_auth)
    assert r.status_code == 409 and r.get_json()["code"] == "qr_revoked"
    assert client.get(f"{BASE}/places/{pa['code']}/poster", headers=w.a.staff).status_code == 409
    reopened = client.patch(f"{BASE}/places/{pa['code']}", json={"active": True}, headers=w.a.manager).get_json()
    assert reopened["link"] and reopened["link"] != pa["link"]
    assert client.post(f"{BASE}/checkins", json={"code": reopened["link"]}, headers=w.zhang_auth).status_code == 201


# ---------------------------------------------------------------- sentinels


def bind(client, op: Operator, place_code: str, device_uid: str):
    return client.put(f"{BASE}/places/{place_code}/sentinels/{device_uid}", headers=op.manager)


def test_a_sentinel_checks_in_the_holder_of_a_personal_code(client, session, clock, keyring, w, places):
    pa, _ = places
    assert bind(client, w.a, pa["code"], w.a.sentinel.uid).status_code == 200
    assert client.get(f"{BASE}/sentinel", headers=w.a.sentinel_auth).get_json()["place"]["code"] == pa["code"]
    token = personal(session, clock, keyring, w.zhang)
    r = client.post(f"{BASE}/scans", json={"token": token}, headers=w.a.sentinel_auth)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["holder"] == {"masked_name": "张**", "real_name_level": "verified"}
    assert body["place"]["code"] == pa["code"] and body["via"] == "sentinel"
    text = r.get_data(as_text=True)
    for secret in (w.phone, w.id_no, "张三丰"):
        assert secret not in text
    assert set(body) == {"place", "via", "at", "holder"}
    (row,) = checkins(session)
    assert (row.person_id, row.place_id, row.via) == (w.zhang.person_id, place_row(session, pa["code"]).id,
                                                       "sentinel")
    # the same code again is a replay, recorded, and checks nobody in
    again = client.post(f"{BASE}/scans", json={"token": token}, headers=w.a.sentinel_auth)
    assert again.status_code == 409 and again.get_json()["code"] == "qr_replayed"
    assert len(checkins(session)) == 1
    results = list(session.scalars(sa.select(QrScan.result).where(QrScan.scanner_id == w.a.sentinel.id)))
    assert results == ["accepted", "qr_replayed"]


def test_sentinel_scans_are_never_rate_limited(client, session, clock, keyring, w, places, settings_override):
    pa, _ = places
    bind(client, w.a, pa["code"], w.a.sentinel.uid)
    settings_override(RATELIMIT_DEFAULT="2/minute")
    codes = [client.post(f"{BASE}/scans", json={"token": personal(session, clock, keyring, w.zhang)},
                         headers=w.a.sentinel_auth).status_code for _ in range(4)]
    assert codes == [201] * 4


def test_sentinel_refusals(client, session, clock, keyring, w, places):
    pa, _ = places
    token = personal(session, clock, keyring, w.zhang)
    r = client.post(f"{BASE}/scans", json={"token": token}, headers=w.a.sentinel_auth)
    assert r.status_code == 409 and r.get_json()["code"] == "sentinel_not_bound"
    assert client.post(f"{BASE}/scans", json={"token": token}, headers=w.a.gate_auth).status_code == 403
    assert client.post(f"{BASE}/scans", json={"token": token}, headers=w.zhang_auth).status_code == 403
    assert client.post(f"{BASE}/scans", json={"token": token}).status_code == 401
    # binding: only sentinels, only the operator's own
    r = bind(client, w.a, pa["code"], w.a.gate.uid)
    assert r.status_code == 422
    assert client.put(f"{BASE}/places/{pa['code']}/sentinels/{w.a.sentinel.uid}", headers=w.a.staff).status_code \
        == 403
    assert checkins(session) == []
    # the code was never consumed: a bound sentinel still takes it
    assert bind(client, w.a, pa["code"], w.a.sentinel.uid).status_code == 200
    assert client.post(f"{BASE}/scans", json={"token": token}, headers=w.a.sentinel_auth).status_code == 201


def test_another_operator_s_device_cannot_check_anyone_in_at_your_place(client, session, clock, keyring, w, places):
    pa, pb = places
    # through the API: neither manager can bind the other's sentinel, nor to the other's place
    assert bind(client, w.a, pa["code"], w.b.sentinel.uid).status_code == 404
    assert bind(client, w.b, pa["code"], w.b.sentinel.uid).status_code == 404
    assert bind(client, w.b, pb["code"], w.b.sentinel.uid).status_code == 200
    # B's sentinel checks people in at B's place only
    r = client.post(f"{BASE}/scans", json={"token": personal(session, clock, keyring, w.li)},
                    headers=w.b.sentinel_auth)
    assert r.status_code == 201 and r.get_json()["place"]["code"] == pb["code"]
    # even a binding forged in the database does not make it scan for A's place
    session.execute(sa.update(CheckinSentinel).where(CheckinSentinel.device_id == w.b.sentinel.id)
                    .values(place_id=place_row(session, pa["code"]).id))
    session.commit()
    r = client.post(f"{BASE}/scans", json={"token": personal(session, clock, keyring, w.zhang)},
                    headers=w.b.sentinel_auth)
    assert r.status_code == 409 and r.get_json()["code"] == "sentinel_not_bound"
    assert [c.place_id for c in checkins(session)] == [place_row(session, pb["code"]).id]


def test_moving_and_removing_a_sentinel(client, session, w):
    p1 = new_place(client, w.a.manager, name="一号店").get_json()["code"]
    p2 = new_place(client, w.a.manager, name="二号店").get_json()["code"]
    assert bind(client, w.a, p1, w.a.sentinel.uid).status_code == 200
    assert bind(client, w.a, p2, w.a.sentinel.uid).status_code == 200  # moved
    assert client.get(f"{BASE}/places/{p1}/sentinels", headers=w.a.staff).get_json()["items"] == []
    (item,) = client.get(f"{BASE}/places/{p2}/sentinels", headers=w.a.staff).get_json()["items"]
    assert item["device_id"] == w.a.sentinel.uid
    assert client.delete(f"{BASE}/places/{p1}/sentinels/{w.a.sentinel.uid}", headers=w.a.manager).status_code == 404
    assert client.delete(f"{BASE}/places/{p2}/sentinels/{w.a.sentinel.uid}", headers=w.b.manager).status_code == 404
    assert client.delete(f"{BASE}/places/{p2}/sentinels/{w.a.sentinel.uid}", headers=w.a.manager).status_code == 204
    assert count(session, CheckinSentinel) == 0


# ---------------------------------------------------------------- flow


def test_flow_counts_per_hour(client, session, clock, keyring, w, places):
    pa, pb = places
    start = clock.now().replace(minute=0, second=0, microsecond=0)
    clock.set(start + timedelta(minutes=10))
    for _ in range(3):
        client.post(f"{BASE}/checkins", json={"code": pa["link"]}, headers=w.zhang_auth)
    client.post(f"{BASE}/checkins", json={"code": pb["link"]}, headers=w.li_auth)  # another place
    # (an access token lives less than the hours below: rows of later hours are written directly)
    session.add(Checkin(place_id=place_row(session, pa["code"]).id, person_id=w.li.person_id, via="sentinel",
                        at=start + timedelta(hours=2, minutes=59)))
    session.add(Checkin(place_id=place_row(session, pa["code"]).id, person_id=w.li.person_id, via="sentinel",
                        at=start + timedelta(hours=4)))  # the end is exclusive
    session.commit()
    q = f"from={quote(start.astimezone(CST).isoformat())}&to={quote((start + timedelta(hours=4)).isoformat())}"
    r = client.get(f"{BASE}/places/{pa['code']}/flow?{q}", headers=w.a.staff)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert [h["count"] for h in body["hours"]] == [3, 0, 1, 0] and body["total"] == 4
    assert body["hours"][0]["hour"] == start.astimezone(CST).isoformat()
    # default: the last 24 hours up to the current one
    default = client.get(f"{BASE}/places/{pa['code']}/flow", headers=w.a.staff).get_json()
    assert len(default["hours"]) == 24 and default["total"] == 3  # up to the current hour
    assert client.get(f"{BASE}/places/{pb['code']}/flow", headers=w.b.staff).get_json()["total"] == 1
    bad = f"from={quote(start.isoformat())}&to={quote((start + timedelta(days=40)).isoformat())}"
    assert client.get(f"{BASE}/places/{pa['code']}/flow?{bad}", headers=w.a.staff).status_code == 422
    backwards = f"from={quote(start.isoformat())}&to={quote((start - timedelta(hours=1)).isoformat())}"
    assert client.get(f"{BASE}/places/{pa['code']}/flow?{backwards}", headers=w.a.staff).status_code == 422
    naive = "from=2026-01-01T00:00:00"
    assert client.get(f"{BASE}/places/{pa['code']}/flow?{naive}", headers=w.a.staff).status_code == 422
    assert client.get(f"{BASE}/places/{pa['code']}/flow", headers=w.b.staff).status_code == 404


# ---------------------------------------------------------------- history


def test_residents_see_only_their_own_history(client, session, clock, w, places):
    pa, pb = places
    for i in range(3):
        clock.advance(seconds=30)
        client.post(f"{BASE}/checkins", json={"code": (pa, pb)[i % 2]["link"]}, headers=w.zhang_auth)
    client.post(f"{BASE}/checkins", json={"code": pa["link"]}, headers=w.li_auth)
    mine = client.get(f"{BASE}/me/checkins?page_size=2", headers=w.zhang_auth).get_json()
    assert mine["total"] == 3 and len(mine["items"]) == 2
    assert [i["place"]["code"] for i in mine["items"]] == [pa["code"], pb["code"]]  # newest first
    page2 = client.get(f"{BASE}/me/checkins?page_size=2&page=2", headers=w.zhang_auth).get_json()
    assert [i["place"]["code"] for i in page2["items"]] == [pa["code"]]
    li = client.get(f"{BASE}/me/checkins", headers=w.li_auth).get_json()
    assert li["total"] == 1
    assert client.get(f"{BASE}/me/checkins").status_code == 401
    assert client.get(f"{BASE}/me/checkins", headers=w.a.manager).status_code == 403
    assert client.get(f"{BASE}/me/checkins", headers=w.a.sentinel_auth).status_code == 403


def test_erasing_a_person_deletes_their_check_ins(client, session, w, places):
    pa, _ = places
    client.post(f"{BASE}/checkins", json={"code": pa["link"]}, headers=w.zhang_auth)
    client.post(f"{BASE}/checkins", json={"code": pa["link"]}, headers=w.li_auth)
    assert client.delete("/api/v1/me", headers=w.zhang_auth).status_code == 204
    assert [c.person_id for c in checkins(session)] == [w.li.person_id]


# ---------------------------------------------------------------- retention


def test_retention_job_deletes_old_check_ins(app, client, session, clock, w, places, settings_override):
    pa, _ = places
    place_id = place_row(session, pa["code"]).id
    now = clock.now()
    for days in (40, 29, 27, 1):
        session.add(Checkin(place_id=place_id, person_id=w.zhang.person_id, via="resident_scan",
                            at=now - timedelta(days=days)))
    session.commit()
    job = PERIODIC_JOBS["purge_checkins"]
    assert job.every == timedelta(hours=1)
    assert job.func(session, clock) == 2
    assert sorted((now - c.at).days for c in checkins(session)) == [1, 27]
    settings_override(CHECKIN_RETENTION_DAYS="7")
    assert job.func(session, clock) == 1
    assert [(now - c.at).days for c in checkins(session)] == [1]


def test_qr_purge_job(session, clock, keyring, w):
    personal(session, clock, keyring, w.zhang)
    assert count(session, QrSubject) == 1
    clock.advance(minutes=10)
    result = PERIODIC_JOBS["purge_qr"].func(session, clock)
    assert result["subjects"] == 1 and count(session, QrSubject) == 0


# ---------------------------------------------------------------- demo data


def table_counts(session) -> dict[str, int]:
    from app.models import metadata

    return {t.name: session.scalar(sa.select(sa.func.count()).select_from(t)) for t in metadata.sorted_tables}


def test_demo_data_is_complete_and_idempotent(session, clock, keyring):
    from app.geo import inside_district
    from scenarios.place_checkin.demo import load

    load(session, clock)
    session.commit()
    first = table_counts(session)
    places = list(session.scalars(sa.select(CheckinPlace).where(CheckinPlace.code.like("demo-%"))))
    assert {p.kind for p in places} == set(PLACE_KINDS) and len(places) >= 50
    assert len({p.operator_id for p in places}) == 3
    assert all(inside_district(p.lat, p.lon) for p in places)
    codes = session.scalar(sa.select(sa.func.count()).select_from(QrPass).where(
        QrPass.purpose == "place_checkin", QrPass.ref.like("place:demo-%"), QrPass.revoked_at.is_(None)))
    assert codes == len(places)
    assert count(session, CheckinSentinel) >= 5 and count(session, Checkin) >= 20
    snapshot = json.dumps(sorted((p.code, p.name, p.updated_at.isoformat()) for p in places))
    clock.advance(minutes=30)
    load(session, clock)
    session.commit()
    assert table_counts(session) == first
    session.expire_all()
    again = list(session.scalars(sa.select(CheckinPlace).where(CheckinPlace.code.like("demo-%"))))
    assert json.dumps(sorted((p.code, p.name, p.updated_at.isoformat()) for p in again)) == snapshot


@pytest.mark.slow
def test_every_app_process_registers_the_purge_jobs():
    """The worker builds the app and nothing else: the jobs must not depend on app.models."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("from app import create_app; from app.config import load_settings; "
            "from app.periodic import PERIODIC_JOBS; "
            "create_app(load_settings({'DATABASE_URL': 'sqlite://', 'LOG_LEVEL': 'WARNING'})); "
            "print(sorted(PERIODIC_JOBS))")
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[3],
                         capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"})
    assert "'purge_checkins'" in out.stdout and "'purge_qr'" in out.stdout
