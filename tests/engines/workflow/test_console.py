"""The workflow engine's console pages on the engine's test scenario (wf-test): the queue and
its poll, the ticket page and its actions from the API's table, 404 and 403 from the API's
permission layer, the export, the supervisor's figures, the SLA policies."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from scenarios.engines.workflow.models import Ticket
from tests.support.console import page_bytes, post, sign_in
from tests.support.workflow import events, report, ticket_row

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")
QUEUE = "/console/w/wf-test/queue"


def test_the_queue_lists_open_tickets_soonest_due_first_and_polls_for_new_ones(client, wf, app):
    first = report(client, wf, text="厨房水管漏水")
    sign_in(client, wf.accounts["manager_a"].username)
    page = client.get(QUEUE).get_data(as_text=True)
    assert first["number"] in page and 'hx-trigger="every 10s"' in page and "data-due=" in page
    second = report(client, wf, text="楼道灯坏了")
    rows = client.get(QUEUE + "/rows").get_data(as_text=True)
    assert second["number"] in rows and rows.index(first["number"]) < rows.index(second["number"])
    assert "<html" not in rows  # a fragment for htmx


def test_the_queue_takes_the_apis_filters_and_refuses_as_it_does(client, wf):
    report(client, wf, text="厨房水管漏水")
    sign_in(client, wf.accounts["manager_a"].username)
    assert "没有符合条件的工单" in client.get(QUEUE + "?q=电梯坏了").get_data(as_text=True)
    bad = client.get(QUEUE + "?sort=sideways")
    assert bad.status_code == 422 and "sort" in bad.get_data(as_text=True)


def test_another_companys_member_gets_the_404_page_and_a_resident_style_action_403(client, wf):
    ticket = report(client, wf)
    sign_in(client, wf.accounts["manager_b"].username)
    resp = client.get(f"/console/tickets/{ticket['id']}")
    assert resp.status_code == 404 and "页面不存在" in resp.get_data(as_text=True)
    missing = client.get("/console/tickets/999999999")
    assert missing.status_code == 404 and page_bytes(missing) == page_bytes(resp)
    assert post(client, f"/console/tickets/{ticket['id']}/acknowledge").status_code == 404
    sign_in(client, wf.accounts["supervisor"].username)  # sees it (supervises company A), may not act
    assert client.get(f"/console/tickets/{ticket['id']}").status_code == 200
    assert post(client, f"/console/tickets/{ticket['id']}/acknowledge").status_code == 403


def test_a_manager_acknowledges_and_assigns_with_an_appointment_through_the_apis_actions(client, wf, session):
    ticket = report(client, wf)
    sign_in(client, wf.accounts["manager_a"].username)
    page = client.get(f"/console/tickets/{ticket['id']}").get_data(as_text=True)
    assert 'id="do-acknowledge"' in page and "180" not in page.split("报修人")[1][:80]
    resp = post(client, f"/console/tickets/{ticket['id']}/acknowledge", {"version": "1"})
    assert resp.status_code == 302
    assert ticket_row(session, ticket["id"]).status == "acknowledged"
    tomorrow = (wf.clock.now().astimezone(__import__("datetime").timezone(__import__("datetime").timedelta(hours=8)))
                + __import__("datetime").timedelta(days=1)).strftime("%Y-%m-%dT10:00")
    resp = post(client, f"/console/tickets/{ticket['id']}/assign",
                {"assignee_account_id": str(wf.id("tech_a")), "appointment_at": tomorrow})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    row = ticket_row(session, ticket["id"])
    assert row.status == "assigned" and row.assignee_account_id == wf.id("tech_a") and row.appointment_at


def test_a_stale_version_is_refused_like_if_match(client, wf, session):
    ticket = report(client, wf)
    sign_in(client, wf.accounts["manager_a"].username)
    assert post(client, f"/console/tickets/{ticket['id']}/acknowledge", {"version": "7"}).status_code == 412
    assert ticket_row(session, ticket["id"]).status == "submitted"


def test_a_technician_resolves_with_a_photo(client, wf, session):
    ticket = report(client, wf)
    sign_in(client, wf.accounts["manager_a"].username)
    post(client, f"/console/tickets/{ticket['id']}/assign", {"assignee_account_id": str(wf.id("tech_a"))})
    sign_in(client, wf.accounts["tech_a"].username)
    image = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(image, "JPEG")
    image.seek(0)
    resp = post(client, f"/console/tickets/{ticket['id']}/resolve",
                {"note": "已更换水管", "photo": (image, "done.jpg")}, content_type="multipart/form-data")
    assert resp.status_code == 302, resp.get_data(as_text=True)[-600:]
    assert ticket_row(session, ticket["id"]).status == "resolved"
    page = client.get(f"/console/tickets/{ticket['id']}").get_data(as_text=True)
    assert "<img src=" in page and "已更换水管" in page


def test_an_internal_note_is_marked(client, wf, session):
    ticket = report(client, wf)
    sign_in(client, wf.accounts["manager_a"].username)
    post(client, f"/console/tickets/{ticket['id']}/comments", {"text": "住户白天不在", "internal": "true"})
    assert events(session, ticket["id"], "comment")[-1].internal
    assert "内部备注" in client.get(f"/console/tickets/{ticket['id']}").get_data(as_text=True)


def test_the_export_is_the_apis_file(client, wf):
    ticket = report(client, wf)
    sign_in(client, wf.accounts["manager_a"].username)
    resp = client.get(QUEUE + "/export?format=csv")
    assert resp.status_code == 200 and resp.data.startswith("\ufeff".encode())
    assert ticket["number"] in resp.get_data(as_text=True) and "attachment" in resp.headers["Content-Disposition"]
    assert client.get(QUEUE + "/export?format=xlsx").data[:2] == b"PK"


def test_the_supervisor_sees_escalated_tickets_and_figures_with_a_chart(client, wf, session):
    ticket = report(client, wf)
    session.get(Ticket, ticket["id"]).escalation_level = 1
    session.commit()
    sign_in(client, wf.accounts["supervisor"].username)
    assert ticket["number"] in client.get("/console/w/wf-test/escalated").get_data(as_text=True)
    page = client.get("/console/w/wf-test/stats").get_data(as_text=True)
    assert "<svg" in page and wf.world.companies[0].name in page
    csv = client.get("/console/w/wf-test/stats?format=csv")
    assert "首次响应中位数" in csv.get_data(as_text=True) and wf.world.companies[0].name in csv.get_data(as_text=True)
    assert client.get(QUEUE).status_code == 403  # a supervisor owns no queue


def test_the_district_admin_changes_an_sla_policy(client, wf):
    sign_in(client, wf.accounts["admin"].username)
    resp = post(client, "/console/sla-policies", {"scenario": "wf-test", "response_minutes": "45",
                                                  "calendar": "24x7"}, page="/console/sla-policies")
    assert resp.status_code == 200 and "已保存" in resp.get_data(as_text=True)
    sign_in(client, wf.accounts["manager_a"].username)
    assert client.get("/console/sla-policies").status_code == 403
