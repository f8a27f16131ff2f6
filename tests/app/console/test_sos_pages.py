"""The SOS call centre's console pages: the board of open alarms with their limits, the alarm
page with its trail, acknowledge (the dispatch engine's accept: one operator wins), the
responder's visit and arrival, the outcome form, the monthly figures — visibility first,
CSRF on every form."""
from __future__ import annotations

import pytest

from tests.scenarios.elderly_sos.conftest import sos  # noqa: F401  (the elderly-sos world)
from tests.support.console import page_bytes, post, sign_in

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")
PAGES = "/console/sos"


def _signed_in(app, sos, who: str):  # noqa: F811
    client = app.test_client()
    sign_in(client, sos.accounts[who].username)
    return client


def test_an_operator_sees_the_alarm_on_the_board_and_acknowledges_it_once(app, sos):  # noqa: F811
    sos.on_duty("op1", "op2")
    alarm = sos.press()
    op1, op2 = _signed_in(app, sos, "op1"), _signed_in(app, sos, "op2")
    board = op1.get(f"{PAGES}/alarms").get_data(as_text=True)
    assert alarm["number"] in board and "data-due=" in board and "待应答" in board
    assert alarm["number"] in op1.get(f"{PAGES}/alarms/rows").get_data(as_text=True)
    page = op1.get(f"{PAGES}/alarms/{alarm['id']}")
    assert page.status_code == 200 and 'id="do-acknowledge"' in page.get_data(as_text=True)
    forged = op1.post(f"{PAGES}/alarms/{alarm['id']}/acknowledge", data={"csrf_token": "forged"})
    assert forged.status_code == 400 and sos.alarm(alarm["id"]).state == "open"
    done = post(op1, f"{PAGES}/alarms/{alarm['id']}/acknowledge")
    assert done.status_code == 302 and sos.alarm(alarm["id"]).state == "acknowledged"
    assert post(op2, f"{PAGES}/alarms/{alarm['id']}/acknowledge").status_code == 409
    trail = op1.get(f"{PAGES}/alarms/{alarm['id']}").get_data(as_text=True)
    assert "呼叫中心应答" in trail and 'id="do-acknowledge"' not in trail and 'id="do-close"' in trail


def test_the_responder_visits_arrives_and_closes_with_an_outcome(app, sos):  # noqa: F811
    sos.on_duty("op1")
    alarm = sos.press()
    sos.ack("op1", alarm)
    grid = _signed_in(app, sos, "grid")
    url = f"{PAGES}/alarms/{alarm['id']}"
    assert 'id="do-visit"' in grid.get(url).get_data(as_text=True)
    assert post(grid, f"{url}/visit").status_code == 302
    assert post(grid, f"{url}/arrived").status_code == 302 and sos.alarm(alarm["id"]).state == "on_scene"
    assert post(grid, f"{url}/close", {"outcome": "other"}).status_code == 422  # "other" needs a text
    assert post(grid, f"{url}/close", {"outcome": "nonsense"}).status_code == 422
    assert post(grid, f"{url}/close", {"outcome": "helped_at_home"}).status_code == 302
    a = sos.alarm(alarm["id"])
    assert (a.state, a.outcome) == ("closed", "helped_at_home")
    assert post(grid, f"{url}/unknown").status_code == 404


def test_who_sees_what(app, sos):  # noqa: F811
    sos.on_duty("op1")
    alarm = sos.press()
    url = f"{PAGES}/alarms/{alarm['id']}"
    other = _signed_in(app, sos, "other_member")  # another committee: the alarm does not exist for it
    hidden, missing = other.get(url), other.get(f"{PAGES}/alarms/999999999")
    assert hidden.status_code == missing.status_code == 404 and page_bytes(hidden) == page_bytes(missing)
    assert post(other, f"{url}/acknowledge").status_code == 404
    member = _signed_in(app, sos, "member")  # the person's committee sees it, but is no operator
    assert member.get(url).status_code == 200
    assert post(member, f"{url}/acknowledge").status_code == 403 and sos.alarm(alarm["id"]).state == "open"
    assert member.get(f"{PAGES}/alarms").status_code == 403
    assert member.get(f"{PAGES}/figures").status_code == 403


def test_the_monthly_figures(app, sos):  # noqa: F811
    sos.on_duty("op1")
    alarm = sos.press()
    sos.clock.advance(seconds=20)
    sos.ack("op1", alarm)
    civil = _signed_in(app, sos, "civil")
    page = civil.get(f"{PAGES}/figures?month=2026-03")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "呼叫中心应答" in text and "<td>20.0</td>" in text
    assert civil.get(f"{PAGES}/figures?month=2026-13").status_code == 422
    assert "2026-03" in civil.get(f"{PAGES}/figures").get_data(as_text=True)  # this month by default


def test_administrators_read_the_chains_in_words(app, sos):  # noqa: F811
    admin = _signed_in(app, sos, "admin")
    text = admin.get(f"{PAGES}/escalation").get_data(as_text=True)
    assert "呼叫后 60 秒内" in text and "拨打 120" in text and "此后每 5 分钟重复第 4 级" in text
    workflow = admin.get("/console/escalation-policies")
    assert workflow.status_code == 200 and "再过一个响应时限" in workflow.get_data(as_text=True)
    op = _signed_in(app, sos, "cc_manager")
    assert op.get(f"{PAGES}/escalation").status_code == 403
    assert op.get("/console/escalation-policies").status_code == 403
