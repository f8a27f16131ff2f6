"""区城运中心's routing desk (``/console/city-report/routing``) and the bureaus' queue pages:
reports held by 城运中心 (waiting for moderation, or ``其他`` with no department) and those it
routed, routed and re-routed through the API's ``transfer``; a bureau that receives reports
works them in the engine's queue; nobody else has the desk."""
from __future__ import annotations

import re

import pytest

from scenarios.engines.workflow.models import Ticket
from tests.scenarios.city_report.test_city_report import act, city, clear, file  # noqa: F401  (fixtures)
from tests.support.console import csrf, sign_in
from tests.support.reports import CITY_OPS, ECOLOGY, GREENING, TRANSPORT

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")
DESK = "/console/city-report/routing"


def _as(app, city, who: str):  # noqa: F811
    client = app.test_client()
    sign_in(client, city.accounts[who].username)
    return client


def _row(page: str, section: str, tid: int) -> str:
    match = re.search(rf'<tr id="{section}-{tid}">(.*?)</tr>', page, re.S)
    assert match, (section, tid)
    return match.group(1)


def _owner(session, tid: int) -> str:
    session.expire_all()
    from auth.organisations import Organisation
    return session.get(Organisation, session.get(Ticket, tid).org_id).code


def _route(client, tid: int, org: str, version: int, **extra):
    return client.post(f"/console/tickets/{tid}/transfer", data={
        "csrf_token": csrf(client, DESK), "org": org, "version": str(version), "next": DESK, **extra})


def test_the_centre_routes_and_reroutes_from_its_desk(app, client, city, session):  # noqa: F811
    other = file(client, city, category="其他", text="河道边有大量漂浮垃圾")["id"]
    greening = file(client, city, category="市容环境", text="人行道上堆满建筑垃圾")["id"]
    ops = _as(app, city, "ops_staff")
    desk = ops.get(DESK).get_data(as_text=True)
    assert "随申拍 · 分拨" in desk  # its nav entry
    assert "内容待审核" in _row(desk, "held", other) and 'id="route-' not in _row(desk, "held", other)

    clear(client, city, other)
    clear(client, city, greening)
    desk = ops.get(DESK).get_data(as_text=True)
    held = _row(desk, "held", other)
    assert f'id="route-{other}"' in held and f'value="{ECOLOGY}"' in held and f'value="{CITY_OPS}"' not in held
    routed = _row(desk, "routed", greening)
    assert "金山区绿化和市容管理局" in routed and f'id="route-{greening}"' in routed
    assert f'value="{GREENING}"' not in routed
    assert f'id="held-{greening}"' not in desk

    version = session.get(Ticket, other).version
    resp = _route(ops, other, ECOLOGY, version, note="属生态环境局职责")
    assert resp.status_code == 302 and resp.headers["Location"].startswith(f"{DESK}?done=transfer")
    assert _owner(session, other) == ECOLOGY
    desk = ops.get(DESK).get_data(as_text=True)
    assert f'id="held-{other}"' not in desk and "金山区生态环境局" in _row(desk, "routed", other)

    # A stale page is refused (the API's If-Match): nothing moves.
    assert _route(ops, greening, TRANSPORT, version=0).status_code == 412
    assert _owner(session, greening) == GREENING
    assert _route(ops, greening, "no-such-org", session.get(Ticket, greening).version).status_code == 422
    elsewhere = _route(ops, greening, TRANSPORT, session.get(Ticket, greening).version,
                       next="https://evil.example/console/routing")
    assert elsewhere.status_code == 302 and elsewhere.headers["Location"].startswith(f"/console/tickets/{greening}")
    assert _owner(session, greening) == TRANSPORT  # moved; the foreign "next" ignored (no open redirect)

    # Once the department has assigned it, the desk no longer offers to move it (nor does the API).
    transport = _as(app, city, "transport_sup")
    queue = transport.get("/console/w/city-report/queue").get_data(as_text=True)
    assert f"/console/tickets/{greening}" in queue  # a bureau works its reports in the engine's queue
    act(client, city, "transport_sup", greening, "acknowledge")
    desk = ops.get(DESK).get_data(as_text=True)
    assert f'id="route-{greening}"' in _row(desk, "routed", greening)  # acknowledged, not assigned: movable


def test_only_the_centre_has_the_desk_and_only_working_bureaus_a_queue(app, city):  # noqa: F811
    green = _as(app, city, "green_sup")
    assert green.get(DESK).status_code == 403
    assert "随申拍 · 分拨" not in green.get("/console/").get_data(as_text=True)
    assert green.get("/console/w/city-report/queue").status_code == 200
    # 区房管局-like supervisors of a scenario whose bureaus only supervise keep the 403 page.
    assert green.get("/console/w/property-repair/queue").status_code == 403
    assert _as(app, city, "shihua_admin").get(DESK).status_code == 403
    assert _as(app, city, "admin").get(DESK).status_code == 403
