"""区交通委's road notices page (``/console/road-report/notices``): the list, publishing and
withdrawing through the API's services (its dates and roads refused the same way), for its
publishing roles only; road chiefs and 区交通委 work the reports in the engine's queue."""
from __future__ import annotations

import pytest

from scenarios.road_report.models import RoadNotice
from tests.scenarios.road_report.test_road_report import notice, report, road  # noqa: F401  (fixtures)
from tests.support.console import post, sign_in

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")
PAGE = "/console/road-report/notices"


def _as(app, wf, who: str):
    client = app.test_client()
    sign_in(client, wf.accounts[who].username)
    return client


def test_the_bureau_lists_publishes_and_withdraws_notices(app, client, road, session):  # noqa: F811
    works = notice(client, road)
    staff = _as(app, road, "bureau_staff")
    page = staff.get(PAGE).get_data(as_text=True)
    assert "智慧路长 · 道路公告" in page and f'id="notice-{works["id"]}"' in page and "雨污水管道施工" in page
    assert 'value="T-LHL"' in page  # the roads to publish for
    form = {"road": "T-LHL", "kind": "closure", "text": "夜间封闭施工", "from": "2026-11-05", "to": "2026-11-06"}
    resp = post(staff, PAGE, form, page=PAGE)
    assert resp.status_code == 302 and "published=" in resp.headers["Location"]
    session.expire_all()
    made = session.query(RoadNotice).filter_by(text="夜间封闭施工").one()
    assert made.ends_on.isoformat() == "2026-11-06"
    # The API's refusals: a road that does not exist, an end before the start; nothing stored.
    bad = post(staff, PAGE, {**form, "road": "NOPE", "text": "无此路"}, page=PAGE)
    assert bad.status_code == 422 and "NOPE" in bad.get_data(as_text=True)
    assert post(staff, PAGE, {**form, "from": "2026-11-07", "text": "倒置"}, page=PAGE).status_code == 422
    assert session.query(RoadNotice).filter(RoadNotice.text.in_(("无此路", "倒置"))).count() == 0
    only = staff.get(f"{PAGE}?road=T-LHL").get_data(as_text=True)
    assert f'id="notice-{made.id}"' in only and f'id="notice-{works["id"]}"' not in only
    assert staff.get(f"{PAGE}?active=maybe").status_code == 422

    assert post(staff, f"{PAGE}/{works['id']}/withdraw", page=PAGE).status_code == 302
    assert f'id="notice-{works["id"]}"' not in staff.get(PAGE).get_data(as_text=True)
    assert post(staff, f"{PAGE}/{works['id']}/withdraw", page=PAGE).status_code == 404  # already withdrawn
    assert post(staff, f"{PAGE}/999999/withdraw", page=PAGE).status_code == 404


def test_others_have_no_notices_page_and_chiefs_work_their_reports(app, client, road):  # noqa: F811
    works = notice(client, road)
    for who in ("chief_a", "eco_sup", "ops_staff", "admin"):
        other = _as(app, road, who)
        assert other.get(PAGE).status_code == 403, who
        assert "道路公告" not in other.get("/console/").get_data(as_text=True)
    chief = _as(app, road, "chief_a")
    # A notice is public (visible), so withdrawing it is the 403 page for those who do not publish.
    assert post(chief, f"{PAGE}/{works['id']}/withdraw").status_code == 403
    tid = report(client, road)["id"]
    assert f"/console/tickets/{tid}" in chief.get("/console/w/road-report/queue").get_data(as_text=True)
    assert f"/console/tickets/{tid}" not in _as(app, road, "chief_b").get(
        "/console/w/road-report/queue").get_data(as_text=True)
