"""Devices: created with a secret shown once, HTTP Basic, listing and disabling by staff."""
from __future__ import annotations

import hashlib
import json

import pytest
import sqlalchemy as sa

from auth.models import Device
from tests.support.factories import basic, bearer, make_org, make_resident, make_staff, token_for

# For every test: an app context for the factories, and rate-limit counters reset before and after.
pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")


def whoami(client, headers):
    return client.get("/api/v1/auth/device", headers=headers)


def test_cli_creates_a_device_that_authenticates(app, client, session, clock):
    org = make_org(session, "venue_operator")
    session.commit()
    r = app.test_cli_runner().invoke(args=["devices", "create", "--org", org.code, "--kind", "sentinel",
                                           "--name", "北门哨兵"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert set(out) >= {"device_id", "secret"} and out["device_id"].startswith("dv_")
    row = session.scalar(sa.select(Device).where(Device.uid == out["device_id"]))
    assert row.secret_hash == hashlib.sha256(out["secret"].encode()).hexdigest()
    assert out["secret"] not in json.dumps([row.secret_hash, row.name, row.uid])
    ok = whoami(client, basic(out["device_id"], out["secret"]))
    assert ok.status_code == 200 and ok.get_json() == {"device_id": out["device_id"], "kind": "sentinel",
                                                       "org": org.code}
    session.expire_all()
    assert session.get(Device, row.id).last_seen_at == clock.now()
    bad = app.test_cli_runner().invoke(args=["devices", "create", "--org", org.code, "--kind", "toaster",
                                             "--name", "x"])
    assert bad.exit_code != 0
    assert app.test_cli_runner().invoke(args=["devices", "create", "--org", "nope", "--kind", "gate",
                                              "--name", "x"]).exit_code != 0


def test_basic_auth_failures(client, session):
    org = make_org(session, "parking_operator")
    session.commit()
    from auth.devices import create_device

    device, secret = create_device(session, org=org, kind="gate", name="入口道闸")
    session.commit()
    cases = [
        basic(device.uid, secret + "x"),
        basic(device.uid, ""),
        basic("dv_unknown", secret),
        {"Authorization": "Basic not-base64!"},
        {"Authorization": "Basic " + "QUJD"},  # "ABC": no colon
    ]
    for headers in cases:
        r = whoami(client, headers)
        assert r.status_code == 401 and r.get_json()["code"] == "device_credentials_invalid", headers
    assert whoami(client, {}).status_code == 401
    device.status = "disabled"
    session.commit()
    r = whoami(client, basic(device.uid, secret))
    assert r.status_code == 403 and r.get_json()["code"] == "device_disabled"


def test_device_of_a_deactivated_organisation(client, session):
    from auth.devices import create_device

    org = make_org(session, "charging_operator")
    device, secret = create_device(session, org=org, kind="charger", name="1号桩")
    org.active = False
    session.commit()
    assert whoami(client, basic(device.uid, secret)).get_json()["code"] == "device_disabled"


def test_staff_list_create_and_disable_devices(client, session, clock):
    a, b = make_org(session, "venue_operator"), make_org(session, "venue_operator")
    manager, staff_a = make_staff(session, a, "manager"), make_staff(session, a, "staff")
    manager_b = make_staff(session, b, "manager")
    resident = make_resident(session)
    session.commit()
    mh = bearer(token_for(session, clock, manager, a))
    created = client.post(f"/api/v1/orgs/{a.code}/devices", json={"kind": "scanner", "name": "前台"}, headers=mh)
    assert created.status_code == 201
    dev = created.get_json()
    assert dev["secret"] and dev["status"] == "active"
    # Staff (not a manager) of the organisation list and disable; they cannot create.
    sh = bearer(token_for(session, clock, staff_a, a))
    listing = client.get(f"/api/v1/orgs/{a.code}/devices", headers=sh)
    assert listing.status_code == 200 and listing.get_json()["total"] == 1
    assert "secret" not in listing.get_json()["items"][0]
    assert client.post(f"/api/v1/orgs/{a.code}/devices", json={"kind": "scanner", "name": "x"},
                       headers=sh).status_code == 403
    # Another operator's manager sees nothing of it.
    bh = bearer(token_for(session, clock, manager_b, b))
    assert client.get(f"/api/v1/orgs/{a.code}/devices", headers=bh).status_code == 404
    assert client.patch(f"/api/v1/orgs/{a.code}/devices/{dev['device_id']}", json={"status": "disabled"},
                        headers=bh).status_code == 404
    assert client.patch(f"/api/v1/orgs/{b.code}/devices/{dev['device_id']}", json={"status": "disabled"},
                        headers=bh).status_code == 404
    # A resident does not see the organisation at all: 404, as for one that does not exist.
    assert client.get(f"/api/v1/orgs/{a.code}/devices",
                      headers=bearer(token_for(session, clock, resident))).status_code == 404
    assert whoami(client, basic(dev["device_id"], dev["secret"])).status_code == 200
    r = client.patch(f"/api/v1/orgs/{a.code}/devices/{dev['device_id']}", json={"status": "disabled"}, headers=sh)
    assert r.status_code == 200 and r.get_json()["status"] == "disabled"
    assert whoami(client, basic(dev["device_id"], dev["secret"])).get_json()["code"] == "device_disabled"
    # A device is not a resident or staff.
    r = client.get("/api/v1/me", headers=basic(dev["device_id"], dev["secret"]))
    assert r.status_code == 403 and r.get_json()["code"] == "device_disabled"
    r = client.patch(f"/api/v1/orgs/{a.code}/devices/{dev['device_id']}", json={"status": "active"}, headers=sh)
    assert client.get("/api/v1/me", headers=basic(dev["device_id"], dev["secret"])).status_code == 403
