"""Locker operators' console pages: lockers and their cells' state, parcels oldest first with
the recipient masked (overdue ones by filter), a parcel's page and the retrieve action — the
API's queries, views and action; another operator's parcel is the 404 page."""
from __future__ import annotations

import pytest

from scenarios.parcel_locker.models import Parcel
from tests.scenarios.parcel_locker.test_parcel_locker import deliver, w  # noqa: F401  (fixtures)
from tests.support.console import post, sign_in
from tests.support.factories import make_org, make_staff

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")
BASE = "/console/lockers"


def _as(app, account):
    client = app.test_client()
    sign_in(client, account.username)
    return client


def test_an_operator_sees_its_cells_and_parcels_masked_and_retrieves_an_overdue_one(
        app, client, session, clock, w):  # noqa: F811
    old = deliver(client, w.a.locker, w.phone, cell="A01").get_json()["id"]
    clock.advance(hours=30)
    fresh = deliver(client, w.a.locker, w.phone, cell="B01", tracking_no="YT0001").get_json()["id"]
    theirs = deliver(client, w.b.locker, w.phone, cell="A01").get_json()["id"]
    ops = _as(app, w.a.manager_account)
    home = ops.get("/console/").get_data(as_text=True)
    assert "快件箱 · 格口状态" in home and "快件箱 · 快件" in home
    cells = ops.get(f"{BASE}/").get_data(as_text=True)
    assert f'id="locker-{w.a.device.uid}"' in cells and f'id="locker-{w.b.device.uid}"' not in cells
    assert "共 3 个格口：占用 2 个，空闲 1 个" in cells and "占用 0 个" in cells  # A01, B01 of the first

    listed = ops.get(f"{BASE}/parcels").get_data(as_text=True)
    assert listed.index(f'id="parcel-{old}"') < listed.index(f'id="parcel-{fresh}"')  # oldest first
    assert f'id="parcel-{theirs}"' not in listed
    masked = w.phone[:3] + "****" + w.phone[-4:]
    assert masked in listed and w.phone not in listed
    overdue = ops.get(f"{BASE}/parcels?overdue=true").get_data(as_text=True)
    assert f'id="parcel-{old}"' in overdue and f'id="parcel-{fresh}"' not in overdue and "超时未取" in overdue
    assert ops.get(f"{BASE}/parcels?status=lost").status_code == 422

    page = ops.get(f"{BASE}/parcels/{old}").get_data(as_text=True)
    assert 'id="do-retrieve"' in page and masked in page and w.phone not in page and "投递入柜" in page
    assert post(ops, f"{BASE}/parcels/{old}/retrieve", {"reason": ""}, page=f"{BASE}/parcels").status_code == 422
    resp = post(ops, f"{BASE}/parcels/{old}/retrieve", {"reason": "超时未取，已取回"}, page=f"{BASE}/parcels")
    assert resp.status_code == 302
    session.expire_all()
    assert session.get(Parcel, old).status == "retrieved"
    page = ops.get(f"{BASE}/parcels/{old}").get_data(as_text=True)
    assert 'id="do-retrieve"' not in page and "运营方取回" in page
    assert "占用 1 个" in ops.get(f"{BASE}/").get_data(as_text=True)
    again = post(ops, f"{BASE}/parcels/{old}/retrieve", {"reason": "再取"}, page=f"{BASE}/parcels")
    assert again.status_code == 409  # parcel_not_stored


def test_another_operator_gets_404_and_other_staff_403(app, client, session, w):  # noqa: F811
    mine = deliver(client, w.a.locker, w.phone).get_json()["id"]
    other = _as(app, w.b.manager_account)
    assert other.get(f"{BASE}/parcels/{mine}").status_code == 404
    assert post(other, f"{BASE}/parcels/{mine}/retrieve", {"reason": "x"}).status_code == 404
    assert other.get(f"{BASE}/parcels/999999").status_code == 404
    session.expire_all()
    assert session.get(Parcel, mine).status == "stored"
    company = make_staff(session, make_org(session, "property_company", name="某物业"), "manager")
    session.commit()
    stranger = _as(app, company)
    assert stranger.get(f"{BASE}/").status_code == 403 and stranger.get(f"{BASE}/parcels").status_code == 403
    assert "快件箱" not in stranger.get("/console/").get_data(as_text=True)
