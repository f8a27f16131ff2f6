"""place-checkin's console pages for venue operators: their places, the posters downloaded as
PNG (the QR reads back as the place's link) and SVG, the check-in flow per hour of a Beijing day
(counts only), sentinels put at a place by managers; and an organisation's devices (created
with the secret shown once, disabled) — another operator's place or device is the 404 page."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from app.fields import CST
from auth.models import Device
from scenarios.place_checkin import service
from scenarios.place_checkin.models import Checkin, CheckinSentinel
from tests.support.console import page_bytes, post, sign_in
from tests.support.factories import basic, make_org, make_resident, make_staff
from tests.support.qr import read_qr

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits", "keyring")
PAGES = "/console/places"
INSIDE = {"lat": 30.7419, "lon": 121.3416}


class World:
    pass


@pytest.fixture
def v(session, clock):
    w = World()
    w.a, w.b = make_org(session, "venue_operator", name="甲运营"), make_org(session, "venue_operator", name="乙运营")
    w.manager, w.staff = make_staff(session, w.a, "manager"), make_staff(session, w.a, "staff")
    w.b_manager = make_staff(session, w.b, "manager")
    w.company_manager = make_staff(session, make_org(session, "property_company"), "manager")
    w.resident = make_resident(session, name="张三丰")
    w.place, w.link = service.create_place(session, clock=clock, principal=None, name="万达广场", kind="shopping_mall",
                                           address="金山区龙航路 1 号", operator=w.a, **INSIDE)
    w.other, _ = service.create_place(session, clock=clock, principal=None, name="乙超市", kind="supermarket",
                                      address="金山区卫零路 2 号", operator=w.b, **INSIDE)
    session.commit()
    return w


def _client(app, account):
    client = app.test_client()
    sign_in(client, account.username)
    return client


def test_an_operator_sees_its_places_and_no_one_else_does(app, v):
    manager = _client(app, v.manager)
    assert "场所码 · 我的场所" in manager.get("/console/").get_data(as_text=True)
    listed = manager.get(PAGES).get_data(as_text=True)
    assert f'id="place-{v.place.code}"' in listed and v.other.code not in listed
    page = manager.get(f"{PAGES}/{v.place.code}").get_data(as_text=True)
    assert v.link in page and 'id="poster-png"' in page and 'id="do-bind"' in page
    assert 'id="do-bind"' not in _client(app, v.staff).get(f"{PAGES}/{v.place.code}").get_data(as_text=True)
    other = _client(app, v.b_manager)
    for path in ("", "/poster", "/flow"):
        hidden = other.get(f"{PAGES}/{v.place.code}{path}")
        missing = other.get(f"{PAGES}/pl-000000000000{path}")
        assert hidden.status_code == missing.status_code == 404 and page_bytes(hidden) == page_bytes(missing)
    company = _client(app, v.company_manager)
    assert "我的场所" not in company.get("/console/").get_data(as_text=True)
    assert company.get(PAGES).status_code == 403


def test_the_posters_download_as_png_and_svg(app, v, session, clock):
    staff = _client(app, v.staff)
    png = staff.get(f"{PAGES}/{v.place.code}/poster?format=png")
    assert png.status_code == 200 and png.mimetype == "image/png" and png.data.startswith(b"\x89PNG")
    assert png.headers["Content-Disposition"] == f'attachment; filename="place-{v.place.code}.png"'
    assert [x.text for x in read_qr(png.data)] == [v.link]
    svg = staff.get(f"{PAGES}/{v.place.code}/poster?format=svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml" and "万达广场".encode() in svg.data
    assert staff.get(f"{PAGES}/{v.place.code}/poster?format=pdf").status_code == 422
    service.update_place(session, v.place, clock=clock, changes={"active": False})
    session.commit()
    assert staff.get(f"{PAGES}/{v.place.code}/poster?format=png").status_code == 409  # closed: the code is revoked


def test_the_flow_per_hour_of_a_beijing_day_counts_only(app, v, session):
    day = datetime(2026, 3, 2, tzinfo=CST)
    for hour, n in ((0, 1), (9, 3), (23, 2)):
        for i in range(n):
            session.add(Checkin(place_id=v.place.id, person_id=v.resident.person_id, via="resident_scan",
                                at=day + timedelta(hours=hour, minutes=5 * i)))
    session.add(Checkin(place_id=v.place.id, person_id=v.resident.person_id, via="resident_scan",
                        at=day - timedelta(minutes=1)))  # the day before, Beijing time
    session.add(Checkin(place_id=v.other.id, person_id=v.resident.person_id, via="resident_scan",
                        at=day + timedelta(hours=9)))  # another operator's place
    session.commit()
    page = _client(app, v.staff).get(f"{PAGES}/{v.place.code}/flow?date=2026-03-02")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="flow-total">6<' in text and 'role="img"' in text
    row = '<th scope="row">{}:00–{}:59</th><td>{}</td>'
    assert row.format("09", "09", 3) in text and row.format("00", "00", 1) in text
    assert row.format("23", "23", 2) in text and text.count('<th scope="row">') == 24
    assert "张三丰" not in text and "张*" not in text
    assert _client(app, v.staff).get(f"{PAGES}/{v.place.code}/flow?date=2026-02-30").status_code == 422


def test_devices_created_with_the_secret_shown_once_then_disabled(app, v, client, session):
    manager = _client(app, v.manager)
    url = f"/console/orgs/{v.a.code}/devices"
    assert "本机构设备" in manager.get("/console/").get_data(as_text=True)
    assert post(_client(app, v.staff), url, {"kind": "sentinel", "name": "北门哨兵"}).status_code == 403
    created = post(manager, url, {"kind": "sentinel", "name": "北门哨兵"})
    text = created.get_data(as_text=True)
    assert created.status_code == 200 and 'id="device-secret"' in text
    device = session.scalar(sa.select(Device).where(Device.organisation_id == v.a.id))
    secret = text.split('id="device-secret">')[1].split("<")[0]
    auth = basic(device.uid, secret)
    assert client.get("/api/v1/place-checkin/sentinel", headers=auth).status_code == 409  # known, not placed yet
    assert secret not in manager.get(url).get_data(as_text=True)  # never shown again
    assert session.get(Device, device.id).secret_hash != secret
    other = _client(app, v.b_manager)
    assert other.get(url).status_code == 404
    assert post(other, f"{url}/{device.uid}", {"status": "disabled"}).status_code == 404
    assert post(manager, f"{url}/{device.uid}", {"status": "broken"}).status_code == 422
    assert post(manager, f"{url}/{device.uid}", {"status": "disabled"}).status_code == 302
    session.expire_all()
    assert session.get(Device, device.id).status == "disabled"
    refused = client.get("/api/v1/place-checkin/sentinel", headers=auth)
    assert refused.status_code == 403 and refused.get_json()["code"] == "device_disabled"


def test_a_manager_puts_a_sentinel_at_the_place_and_takes_it_away(app, v, session):
    from auth.devices import create_device

    sentinel, _ = create_device(session, org=v.a, kind="sentinel", name="北门哨兵")
    theirs, _ = create_device(session, org=v.b, kind="sentinel", name="乙哨兵")
    session.commit()
    url = f"{PAGES}/{v.place.code}/sentinels"
    assert post(_client(app, v.staff), url, {"device_id": sentinel.uid}).status_code == 403
    manager = _client(app, v.manager)
    assert post(manager, url, {"device_id": theirs.uid}).status_code == 404  # another operator's device
    assert post(manager, url, {"device_id": sentinel.uid}).status_code == 302
    assert session.get(CheckinSentinel, sentinel.id).place_id == v.place.id
    assert f'id="sentinel-{sentinel.uid}"' in manager.get(f"{PAGES}/{v.place.code}").get_data(as_text=True)
    assert post(_client(app, v.b_manager), f"{url}/{sentinel.uid}/remove").status_code == 404
    assert post(manager, f"{url}/{sentinel.uid}/remove").status_code == 302
    session.expire_all()
    assert session.get(CheckinSentinel, sentinel.id) is None
