"""The 12345 hotline office and its departments in the console: a department works its orders
in the engine's queue and ticket page (退单, the reply to the caller, with the API's choices),
never seeing the caller's phone; the office's verdict form and its monthly figures page."""
from __future__ import annotations

import re

import pytest

from scenarios.engines.workflow.models import Ticket
from tests.scenarios.hotline_12345.test_hotline import act, file, hl  # noqa: F401  (fixtures)
from tests.support.console import post, sign_in

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")
QUEUE = "/console/w/hotline-12345/queue"
FIGURES = "/console/hotline/figures"


def _as(app, wf, who: str):
    client = app.test_client()
    sign_in(client, wf.accounts[who].username)
    return client


def _version(session, tid: int) -> str:
    session.expire_all()
    return str(session.get(Ticket, tid).version)


def test_a_department_replies_and_sends_back_from_the_ticket_page(app, client, hl, session):  # noqa: F811
    phone = "13800002222"
    tid = file(client, hl, phone=phone)["id"]
    water = _as(app, hl, "water")
    assert f"/console/tickets/{tid}" in water.get(QUEUE).get_data(as_text=True)  # a bureau's queue
    page = water.get(f"/console/tickets/{tid}").get_data(as_text=True)
    assert phone not in page and phone[-4:] not in page
    assert 'id="do-send-back"' in page and 'id="do-reply"' in page and 'id="do-satisfaction"' not in page
    assert re.search(r'name="channel" required><option value="phone">电话</option><option value="sms">短信', page)
    act(client, hl, "water", tid, "acknowledge")
    resp = post(water, f"/console/tickets/{tid}/reply", {"content": "已安排抢修，今晚恢复供水", "channel": "phone",
                                                         "version": _version(session, tid)}, page=QUEUE)
    assert resp.status_code == 302, resp.get_data(as_text=True)[-600:]
    session.expire_all()
    assert session.get(Ticket, tid).details["reply"]["content"] == "已安排抢修，今晚恢复供水"
    bad = post(water, f"/console/tickets/{tid}/reply", {"content": "x", "channel": "pigeon",
                                                        "version": _version(session, tid)}, page=QUEUE)
    assert bad.status_code == 422 and "channel" in bad.get_data(as_text=True)
    # Resolved and replied: the office (not the department) is offered the caller's verdict.
    act(client, hl, "water", tid, "resolve", {"note": "已恢复供水"})
    assert 'id="do-satisfaction"' not in water.get(f"/console/tickets/{tid}").get_data(as_text=True)
    office = _as(app, hl, "taker")
    page = office.get(f"/console/tickets/{tid}").get_data(as_text=True)
    assert 'id="do-satisfaction"' in page and '<option value="基本满意">基本满意</option>' in page
    assert post(office, f"/console/tickets/{tid}/satisfaction", {"result": "满意", "via": "call",
                                                                  "version": _version(session, tid)},
                page=QUEUE).status_code == 302
    session.expire_all()
    assert session.get(Ticket, tid).status == "closed"
    assert 'id="do-satisfaction"' not in office.get(f"/console/tickets/{tid}").get_data(as_text=True)

    second = file(client, hl)["id"]
    assert post(water, f"/console/tickets/{second}/send-back", {"reason": "不属于本单位职责",
                                                                "version": _version(session, second)},
                page=QUEUE).status_code == 302
    session.expire_all()
    assert session.get(Ticket, second).org_id == hl.orgs["taker"].id
    assert water.get(f"/console/tickets/{second}").status_code == 404  # no longer theirs to see
    page = office.get(f"/console/tickets/{second}").get_data(as_text=True)
    assert 'id="do-transfer"' in page and 'value="310116-bureau-market"' in page  # re-route by name


def test_the_office_figures_page(app, client, hl):  # noqa: F811
    tid = file(client, hl)["id"]
    act(client, hl, "water", tid, "acknowledge")
    office = _as(app, hl, "taker")
    assert "12345 · 月度考核" in office.get("/console/").get_data(as_text=True)
    page = office.get(f"{FIGURES}?month=2026-12").get_data(as_text=True)
    assert 'id="dept-310116-bureau-water"' in page and "<svg" in page and "100.0%" in page
    assert office.get(FIGURES).status_code == 200  # this month by default
    assert office.get(f"{FIGURES}?month=2026-13").status_code == 422
    assert 'id="dept-' not in office.get(f"{FIGURES}?month=2026-01").get_data(as_text=True)
    dispatched = office.get(f"{QUEUE}?dispatched=true").get_data(as_text=True)
    assert f"/console/tickets/{tid}" in dispatched
    water = _as(app, hl, "water")
    assert water.get(FIGURES).status_code == 403 and "月度考核" not in water.get("/console/").get_data(as_text=True)
