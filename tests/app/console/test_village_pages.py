"""Village committees' console pages: rural-rental's houses by state with the inspections due,
a house and its inspection form, the tenancies to approve (租前审批); smart-village's notices —
the API's queries and services behind each; another village's object is the 404 page."""
from __future__ import annotations

import pytest

from tests.scenarios.rural_rental.test_rural_rental import house, inspect, tenancy, w  # noqa: F401  (fixtures)
from tests.support.console import page_bytes, post, sign_in
from tests.support.factories import make_staff

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")
RR = "/console/rr"
TICKS = {k: "true" for k in ("extinguisher", "smoke_alarm", "wiring", "gas", "escape_route", "area_and_occupancy")}


def _as(app, w, who: str):  # noqa: F811
    client = app.test_client()
    sign_in(client, w.accounts[who].username)
    return client


def test_a_committee_inspects_its_houses_and_another_village_gets_404(app, session, w, house):  # noqa: F811
    a = _as(app, w, "committee_a")
    listed = a.get(f"{RR}/houses").get_data(as_text=True)
    assert f'id="house-{house["id"]}"' in listed and "尚未检查" in listed and "待检查" in listed
    assert f'id="house-{house["id"]}"' not in a.get(f"{RR}/houses?state=approved").get_data(as_text=True)
    assert a.get(f"{RR}/houses?state=nonsense").status_code == 422
    page = a.get(f"{RR}/houses/{house['id']}")
    assert page.status_code == 200 and 'id="do-inspect"' in page.get_data(as_text=True)
    url = f"{RR}/houses/{house['id']}/inspect"
    forged = a.post(url, data={**TICKS, "csrf_token": "forged"})
    assert forged.status_code == 400
    b = _as(app, w, "committee_b")
    assert page_bytes(b.get(f"{RR}/houses/{house['id']}")) == page_bytes(b.get(f"{RR}/houses/999999999"))
    assert b.get(f"{RR}/houses/{house['id']}").status_code == 404
    assert post(b, url, TICKS).status_code == 404
    assert f'id="house-{house["id"]}"' not in b.get(f"{RR}/houses").get_data(as_text=True)
    assert post(a, url, {**TICKS, "next_on": "2020-01-01"}).status_code == 422
    failed = post(a, url, {**TICKS, "gas": ""})
    assert failed.status_code == 302 and "inspected=failed" in failed.headers["Location"]
    passed = post(a, url, TICKS)
    assert passed.status_code == 302 and "inspected=passed" in passed.headers["Location"]
    assert "已通过" in a.get(f"{RR}/houses").get_data(as_text=True)


def test_a_committee_approves_and_rejects_tenancies(app, client, session, clock, w, house):  # noqa: F811
    a = _as(app, w, "committee_a")
    post(a, f"{RR}/houses/{house['id']}/inspect", TICKS)
    room = house["rooms"][0]["id"]
    first = tenancy(client, w, session, clock, room, ["tenant1"], "2026-03-05", "2026-06-05").get_json()
    second = tenancy(client, w, session, clock, room, ["tenant2"], "2026-07-01", "2026-08-01").get_json()
    listed = a.get(f"{RR}/tenancies").get_data(as_text=True)
    assert f'id="approve-{first["id"]}"' in listed and f'id="reject-{second["id"]}"' in listed
    b = _as(app, w, "committee_b")
    assert post(b, f"{RR}/tenancies/{first['id']}/approve").status_code == 404
    assert post(a, f"{RR}/tenancies/{first['id']}/approve").status_code == 302
    assert post(a, f"{RR}/tenancies/{first['id']}/approve").status_code == 409  # decided already: one decision
    assert post(a, f"{RR}/tenancies/{second['id']}/reject").status_code == 422  # a reason is required
    assert post(a, f"{RR}/tenancies/{second['id']}/reject", {"message": "人数与登记不符"}).status_code == 302
    assert post(a, f"{RR}/tenancies/{second['id']}/ask-more").status_code == 404
    approved = a.get(f"{RR}/tenancies?state=approved").get_data(as_text=True)
    assert f'id="tenancy-{first["id"]}"' in approved and f'id="tenancy-{second["id"]}"' not in approved
    staff = make_staff(session, w.world.companies[0], "manager")
    session.commit()
    other = app.test_client()
    sign_in(other, staff.username)
    assert other.get(f"{RR}/tenancies").status_code == 403 and other.get(f"{RR}/houses").status_code == 403


def test_a_committee_publishes_notices_of_its_village_only(app, session, w):  # noqa: F811
    a = _as(app, w, "committee_a")
    mine = a.get("/console/villages/mine")
    code = w.world.village.code
    assert mine.status_code == 302 and mine.headers["Location"].endswith(f"/console/villages/{code}/notices")
    url = f"/console/villages/{code}/notices"
    page = a.get(url).get_data(as_text=True)
    assert 'id="do-publish"' in page and "全村概况" in page
    forged = a.post(url, data={"kind": "notice", "title": "停水", "body": "周三停水", "csrf_token": "x"})
    assert forged.status_code == 400
    assert post(a, url, {"kind": "gossip", "title": "停水", "body": "周三停水"}, page=url).status_code == 422
    done = post(a, url, {"kind": "finance", "title": "三月收支公开", "body": "收入……", "important": "true"}, page=url)
    assert done.status_code == 302
    assert "三月收支公开" in a.get(f"{url}?kind=finance").get_data(as_text=True)
    assert "三月收支公开" not in a.get(f"{url}?kind=project").get_data(as_text=True)
    b = _as(app, w, "committee_b")
    hidden, missing = b.get(url), b.get("/console/villages/nope/notices")
    assert hidden.status_code == 404 and page_bytes(hidden) == page_bytes(missing)
    assert post(b, url, {"kind": "notice", "title": "x", "body": "y"}, page=f"{RR}/houses").status_code == 404
    staff = make_staff(session, w.world.companies[0], "manager")
    session.commit()
    other = app.test_client()
    sign_in(other, staff.username)
    assert other.get("/console/villages/mine").status_code == 403


def test_inspections_due_and_houses_awaiting_their_first(app, session, w, house):  # noqa: F811
    a = _as(app, w, "committee_a")
    page = a.get(f"{RR}/inspections").get_data(as_text=True)
    first, due = page.split('id="h-first"')[1], page.split('id="h-first"')[0]
    assert f'id="due-{house["id"]}"' in first and f'id="due-{house["id"]}"' not in due
    assert post(a, f"{RR}/houses/{house['id']}/inspect", {**TICKS, "next_on": "2026-03-20"}).status_code == 302
    page = a.get(f"{RR}/inspections").get_data(as_text=True)
    first, due = page.split('id="h-first"')[1], page.split('id="h-first"')[0]
    assert f'id="due-{house["id"]}"' in due and "2026-03-20" in due and f'id="due-{house["id"]}"' not in first
    assert post(a, f"{RR}/houses/{house['id']}/inspect", TICKS).status_code == 302  # next: a year on
    assert f'id="due-{house["id"]}"' not in a.get(f"{RR}/inspections").get_data(as_text=True)
    b = _as(app, w, "committee_b")
    post(a, f"{RR}/houses/{house['id']}/inspect", {**TICKS, "next_on": "2026-03-20"})
    assert f'id="due-{house["id"]}"' not in b.get(f"{RR}/inspections").get_data(as_text=True)


def test_a_days_arrivals_and_departures_are_registered_by_id_number(
        app, client, session, clock, w, house):  # noqa: F811
    a = _as(app, w, "committee_a")
    post(a, f"{RR}/houses/{house['id']}/inspect", TICKS)
    room = house["rooms"][0]["id"]
    t = tenancy(client, w, session, clock, room, ["tenant1", "tenant2"], "2026-03-02", "2026-04-01").get_json()
    pending = tenancy(client, w, session, clock, room, ["tenant3"], "2026-03-02", "2026-03-09").get_json()
    post(a, f"{RR}/tenancies/{t['id']}/approve")
    today = a.get(f"{RR}/stays").get_data(as_text=True)
    arrivals = today.split('id="h-departures"')[0]
    assert f'id="arrivals-{t["id"]}"' in arrivals and f'id="arrivals-{pending["id"]}"' not in today  # approved only
    assert w.ids["tenant1"] not in today and "租*" in today and today.count("未入住") == 2  # masked
    url = f"{RR}/tenancies/{t['id']}/stay/arrivals"
    assert post(_as(app, w, "committee_b"), url, {"id_number": w.ids["tenant1"]}).status_code == 404
    wrong = post(a, url, {"id_number": w.ids["tenant3"]})
    assert wrong.status_code == 409 and "not_a_tenant" not in wrong.get_data(as_text=True)  # the Chinese message
    assert post(a, url, {"id_number": "123"}).status_code == 422
    assert post(a, url, {}).status_code == 422
    done = post(a, url, {"id_number": w.ids["tenant1"], "on": "2026-03-02"})
    assert done.status_code == 302 and "registered=arrivals" in done.headers["Location"]
    page = a.get(done.headers["Location"]).get_data(as_text=True)
    assert "已登记入住" in page and page.count("已入住") >= 1 and page.count("未入住") == 1
    end = a.get(f"{RR}/stays?on=2026-04-01").get_data(as_text=True)
    assert f'id="departures-{t["id"]}"' in end and f'id="arrivals-{t["id"]}"' not in end
    gone = post(a, f"{RR}/tenancies/{t['id']}/stay/departures", {"id_number": w.ids["tenant1"], "on": "2026-04-01"})
    assert gone.status_code == 302 and "on=2026-04-01" in gone.headers["Location"]
    assert "已退房" in a.get(gone.headers["Location"]).get_data(as_text=True)
    never = post(a, f"{RR}/tenancies/{t['id']}/stay/departures", {"id_number": w.ids["tenant2"]})
    assert never.status_code == 409  # not arrived
    assert post(a, f"{RR}/tenancies/{t['id']}/stay/nonsense", {"id_number": w.ids["tenant2"]}).status_code == 404
    assert a.get(f"{RR}/stays?on=2026-13-40").status_code == 422
    assert f'id="arrivals-{t["id"]}"' not in _as(app, w, "committee_b").get(f"{RR}/stays").get_data(as_text=True)
    manager = make_staff(session, w.world.companies[0], "manager")
    session.commit()
    other = app.test_client()
    sign_in(other, manager.username)
    assert other.get(f"{RR}/stays").status_code == 403 and other.get(f"{RR}/inspections").status_code == 403


def test_a_committee_sees_who_has_not_confirmed_an_important_notice(app, session, w):  # noqa: F811
    import sqlalchemy as sa

    from scenarios.smart_village.models import SvNotice

    a = _as(app, w, "committee_a")
    code = w.world.village.code
    url = f"/console/villages/{code}/notices"
    for title, important in (("村道拓宽征求意见", "true"), ("停水通知", "")):
        assert post(a, url, {"kind": "decision", "title": title, "body": "请确认。", "important": important}
                    ).status_code == 302
    ids = dict(session.execute(sa.select(SvNotice.title, SvNotice.id)).all())
    road, water = ids["村道拓宽征求意见"], ids["停水通知"]
    listed = a.get(url).get_data(as_text=True)
    assert f'id="unconfirmed-{road}"' in listed and f'id="unconfirmed-{water}"' not in listed
    page = a.get(f"/console/villages/notices/{road}/unconfirmed")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "共 1 人未确认" in text  # the landlord, the village's one villager
    assert "王**" in text and "王房东" not in text
    assert a.get(f"/console/villages/notices/{water}/unconfirmed").status_code == 409
    b = _as(app, w, "committee_b")
    assert b.get(f"/console/villages/notices/{road}/unconfirmed").status_code == 404
