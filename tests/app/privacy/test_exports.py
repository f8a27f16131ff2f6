"""A copy of one's data: built by the worker, one per person per Beijing day (429 with when),
for a person one acts for only through a relation allowing it (404 otherwise), downloaded
through a signed link (403 when tampered or expired), other people masked, rebuilt after a
crash into the same single file, deleted after 7 days."""
from __future__ import annotations

import io
import json
import os
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from app.notify.models import OutboxMessage
from app.privacy.consents import PURPOSES, give
from app.privacy.exports import SUBJECT_TYPE, purge_data_exports
from app.privacy.models import DataExport
from app.worker import fire_due
from auth.models import Person, PersonRelation
from scenarios.place_checkin.kinds import PLACE_KINDS
from scenarios.place_checkin.models import Checkin, CheckinPlace
from tests.support.factories import bearer, count, make_org, make_resident, token_for

NOON = datetime(2026, 12, 4, 4, 0, tzinfo=UTC)  # 12:00 in Beijing


@pytest.fixture
def export_dir(settings_override, tmp_path):
    path = tmp_path / f"exports-{uuid.uuid4().hex[:6]}"
    settings_override(EXPORT_DIR=str(path))
    return path


@pytest.fixture
def world(ctx, reset_rate_limits, session, clock, export_dir):
    clock.set(NOON)
    alice = make_resident(session, name="王小明", phone="13800138000")
    bob = make_resident(session, name="李大同")
    child = Person(name="王小宝", real_name_level="none")
    parent = Person(name="王老先", real_name_level="none")
    session.add_all([child, parent])
    session.flush()
    session.add_all([
        PersonRelation(from_person_id=alice.person_id, to_person_id=child.id, kind="guardian", allows=["act_all"],
                       status="confirmed"),
        PersonRelation(from_person_id=alice.person_id, to_person_id=parent.id, kind="proxy",
                       allows=["book_medical"], status="confirmed"),
    ])
    operator = make_org(session, "venue_operator")
    place = CheckinPlace(code="pl-export00001", name="金山图书馆", kind=next(iter(PLACE_KINDS)),
                         operator_id=operator.id, address="金山区测试路 1 号", lat=30.74, lon=121.34, active=True)
    session.add(place)
    session.flush()
    session.add(Checkin(place_id=place.id, person_id=alice.person_id, via="resident_scan", at=NOON))
    give(session, clock=clock, person_id=alice.person_id, account_id=alice.id, purpose="precise_location_taxi",
         version=PURPOSES["precise_location_taxi"].version)
    session.add(Checkin(place_id=place.id, person_id=bob.person_id, via="resident_scan", at=NOON))
    session.commit()
    return {"alice": alice, "bob": bob, "child": child, "parent": parent,
            "h": bearer(token_for(session, clock, alice)), "hb": bearer(token_for(session, clock, bob))}


def build(session, clock) -> int:
    ids = session.scalars(sa.select(DataExport.id).where(DataExport.status == "building")).all()
    ran = sum(fire_due(session, clock, subject_type=SUBJECT_TYPE, subject_id=i) for i in ids)
    session.commit()
    return ran


def latest_url(client, headers) -> str:
    return client.get("/api/v1/me/exports", headers=headers).get_json()["items"][0]["url"]


def download(client, url: str):
    return client.get(url)


def unzip(body: bytes) -> tuple[dict, str]:
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        assert sorted(zf.namelist()) == ["data.json", "index.html"]
        return json.loads(zf.read("data.json")), zf.read("index.html").decode()


def test_an_export_is_built_by_the_worker_and_downloaded_through_its_link(client, world, session, clock):
    started = client.post("/api/v1/me/export", json={}, headers=world["h"])
    assert started.status_code == 202, started.get_json()
    assert started.get_json()["status"] == "building" and started.get_json()["url"] is None
    assert build(session, clock) == 1
    listed = client.get("/api/v1/me/exports", headers=world["h"]).get_json()["items"]
    assert [e["status"] for e in listed] == ["ready"]
    got = download(client, listed[0]["url"])
    assert got.status_code == 200 and got.mimetype == "application/zip"
    doc, page = unzip(got.data)
    assert doc["schema"] == "jinshan-personal-data-export/1" and doc["person_id"] == world["alice"].person_id
    sections = doc["sections"]
    assert sections["person"]["rows"][0]["name"] == "王小明"  # one's own data in clear
    assert sections["person"]["rows"][0]["phone"] == "13800138000"
    assert "phone_hash" not in sections["person"]["rows"][0]
    assert [r["place_name"] for r in sections["checkins"]["rows"]] == ["金山图书馆"]  # bob's check-in is not in it
    others = {r["other_name"] for r in sections["relations"]["rows"]}
    assert others == {"王**"}  # other people: masked
    assert "王小宝" not in json.dumps(doc, ensure_ascii=False) and "李大同" not in json.dumps(doc, ensure_ascii=False)
    assert [c["purpose"] for c in sections["consents"]["rows"]] == ["precise_location_taxi"]
    for part in ("tickets", "bookings", "dispatch_jobs", "accounts", "staff_reads"):
        assert part in sections  # every engine's part is there, even when empty
    assert "我的个人信息副本" in page and "场所码登记" in page and "金山图书馆" in page
    notices = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.template == "data_export_ready")).all()
    assert [(n.recipient_kind, n.recipient_id) for n in notices] == [("account", str(world["alice"].id))]


def test_one_export_a_day_per_person_429_says_when(client, world, session, clock):
    assert client.post("/api/v1/me/export", json={}, headers=world["h"]).status_code == 202
    again = client.post("/api/v1/me/export", json={}, headers=world["h"])
    assert again.status_code == 429
    body = again.get_json()
    assert body["code"] == "export_daily_limit" and body["message"]
    assert body["next_allowed_at"] == "2026-12-05T00:00:00+08:00"
    assert again.headers["Retry-After"] == str(12 * 3600 + 1)
    assert client.post("/api/v1/me/export", json={}, headers=world["hb"]).status_code == 202  # bob has his own
    # acting for the child is the child's export, not a second one of alice's
    for_child = client.post("/api/v1/me/export", json={"person_id": world["child"].id}, headers=world["h"])
    assert for_child.status_code == 202
    clock.set(datetime(2026, 12, 4, 16, 0, tzinfo=UTC))  # midnight in Beijing
    now = bearer(token_for(session, clock, world["alice"]))
    assert client.post("/api/v1/me/export", json={}, headers=now).status_code == 202
    assert count(session, DataExport, DataExport.person_id == world["alice"].person_id) == 2


def test_a_person_one_may_not_act_for_is_404(client, world, session, clock):
    for person_id in (world["bob"].person_id, world["parent"].id, 999_999_999):  # stranger; narrower relation
        refused = client.post("/api/v1/me/export", json={"person_id": person_id}, headers=world["h"])
        assert refused.status_code == 404 and refused.get_json()["code"] == "not_found"
    assert client.post("/api/v1/me/export", json={"person_id": "1"}, headers=world["h"]).status_code == 422
    ok = client.post("/api/v1/me/export", json={"person_id": world["child"].id}, headers=world["h"])
    assert ok.status_code == 202
    build(session, clock)
    doc, _ = unzip(download(client, latest_url(client, world["h"])).data)
    assert doc["person_id"] == world["child"].id
    assert doc["sections"]["person"]["rows"][0]["name"] == "王小宝"  # the child's own copy, for their guardian
    assert doc["sections"]["checkins"]["rows"] == []


def test_a_link_tampered_with_or_used_after_expiry_is_403(client, world, session, clock):
    client.post("/api/v1/me/export", json={}, headers=world["h"])
    build(session, clock)
    url = client.get("/api/v1/me/exports", headers=world["h"]).get_json()["items"][0]["url"]
    query = parse_qs(urlsplit(url).query)
    forged = url.replace(f"exp={query['exp'][0]}", f"exp={int(query['exp'][0]) + 86400}")
    assert client.get(forged).get_json()["code"] == "forbidden"
    assert client.get(url).status_code == 200  # no Authorization header needed
    clock.set(NOON + timedelta(hours=24, seconds=1))
    expired = client.get(url)
    assert expired.status_code == 403 and expired.get_json()["code"] == "url_expired"
    fresh = latest_url(client, bearer(token_for(session, clock, world["alice"])))
    assert client.get(fresh).status_code == 200  # a fresh link works until the file is deleted


def test_a_build_interrupted_by_a_crash_is_resumed_into_one_file(client, world, session, clock, export_dir):
    client.post("/api/v1/me/export", json={}, headers=world["h"])
    export_id = session.scalar(sa.select(DataExport.id))
    # the worker writes the file, then dies before committing: nothing of the pass is kept
    crashed = session.begin_nested()
    assert fire_due(session, clock, subject_type=SUBJECT_TYPE, subject_id=export_id) == 1
    crashed.rollback()
    session.expire_all()
    assert len(os.listdir(export_dir)) == 1
    assert session.get(DataExport, export_id).status == "building"
    assert build(session, clock) == 1  # the timer is still due: the next pass rebuilds
    export = session.get(DataExport, export_id)
    assert export.status == "ready"
    assert os.listdir(export_dir) == [f"{export.public_id}.zip"]  # the same file, never two
    assert count(session, OutboxMessage, OutboxMessage.template == "data_export_ready") == 1
    assert build(session, clock) == 0


def test_exports_are_deleted_after_seven_days(client, world, session, clock, export_dir):
    client.post("/api/v1/me/export", json={}, headers=world["h"])
    build(session, clock)
    url = client.get("/api/v1/me/exports", headers=world["h"]).get_json()["items"][0]["url"]
    clock.set(NOON + timedelta(days=7) - timedelta(seconds=1))
    assert purge_data_exports(session, clock) == 0
    clock.set(NOON + timedelta(days=7))
    assert purge_data_exports(session, clock) == 1
    session.commit()
    assert os.listdir(export_dir) == [] and count(session, DataExport) == 0
    assert client.get(url).status_code in (403, 404)
    now = bearer(token_for(session, clock, world["alice"]))
    assert client.get("/api/v1/me/exports", headers=now).get_json()["items"] == []


def test_staff_and_anonymous_callers_cannot_ask(client, world):
    assert client.post("/api/v1/me/export", json={}).status_code == 401


# ---------------------------------------------------------------- who read my data


def _staff_read(session, clock, staff, org, person_id: int, *, fields: list[str], reason: str):
    from auth.audit import record_unmasked_read
    from auth.principal import Principal

    principal = Principal("staff", account_id=staff.id, org_id=org.id)
    return record_unmasked_read(session, clock=clock, principal=principal, subject_person_id=person_id,
                                fields=fields, reason=reason)


@pytest.fixture
def reads(world, session, clock):
    from auth.contacts import StaffContact
    from tests.support.factories import make_staff

    org = make_org(session, "property_company")
    staff = make_staff(session, org, "manager")
    session.add(StaffContact(account_id=staff.id, display_name="张三丰", updated_at=clock.now()))
    session.flush()
    first = _staff_read(session, clock, staff, org, world["alice"].person_id, fields=["phone"], reason="上门维修联系")
    clock.set(NOON + timedelta(hours=1))
    second = _staff_read(session, clock, staff, org, world["alice"].person_id, fields=["id_number", "phone"],
                         reason="核对住户身份")
    _staff_read(session, clock, staff, org, world["bob"].person_id, fields=["phone"], reason="联系李先生")
    session.commit()
    return {"org": org, "ids": [second.id, first.id]}


def test_data_access_lists_staff_reads_of_my_data_newest_first(client, world, reads, session, clock):
    h = bearer(token_for(session, clock, world["alice"]))
    got = client.get("/api/v1/me/data-access", headers=h)
    assert got.status_code == 200
    body = got.get_json()
    assert body["total"] == 2 and [i["id"] for i in body["items"]] == reads["ids"]  # bob's is not mine
    newest = body["items"][0]
    assert newest["fields"] == ["id_number", "phone"] and newest["reason"] == "核对住户身份"
    assert newest["organisation"] == reads["org"].name and newest["role"] == "manager" and newest["role_title"]
    assert newest["reader"] == "张**"  # masked by default
    page = client.get("/api/v1/me/data-access?page=2&page_size=1", headers=h).get_json()
    assert [i["id"] for i in page["items"]] == reads["ids"][1:] and page["total"] == 2
    assert client.get("/api/v1/me/data-access?page_size=0", headers=h).status_code == 422
    assert client.get("/api/v1/me/data-access").status_code == 401


def test_the_district_may_show_readers_names(client, world, reads, session, clock, settings_override):
    settings_override(DATA_ACCESS_READER_NAMES="clear")
    h = bearer(token_for(session, clock, world["alice"]))
    assert {i["reader"] for i in client.get("/api/v1/me/data-access", headers=h).get_json()["items"]} == {"张三丰"}


def test_cancelling_the_account_deletes_exports_and_ends_consents(client, world, session, clock, export_dir):
    from app.privacy.consents import Consent

    client.post("/api/v1/me/export", json={}, headers=world["h"])
    build(session, clock)
    assert len(os.listdir(export_dir)) == 1
    assert client.delete("/api/v1/me", headers=world["h"]).status_code == 204
    session.expire_all()
    assert os.listdir(export_dir) == [] and count(session, DataExport) == 0
    consent = session.scalar(sa.select(Consent).where(Consent.person_id == world["alice"].person_id))
    assert consent.withdrawn_at == NOON
