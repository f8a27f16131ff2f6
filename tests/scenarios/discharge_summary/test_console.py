"""A hospital's follow-up team and doctors in the console: the hospital's summaries with the
patient masked and no health data, a summary's content only after a reason is given (the
API's audited read, with that reason), the follow-ups in the engine's queue linking to their
summary; another hospital gets the 404 page."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from auth.models import AuditEntry
from scenarios.engines.workflow.models import Ticket
from tests.scenarios.discharge_summary.test_discharge_summary import ds, publish  # noqa: F401  (fixtures)
from tests.support.console import post, sign_in

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")
BASE = "/console/ds"


def _as(app, wf, who: str):
    client = app.test_client()
    sign_in(client, wf.accounts[who].username)
    return client


def _audits(session) -> list[AuditEntry]:
    session.expire_all()
    return list(session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "read_discharge_summary")))


def test_health_data_only_through_the_audited_read(app, client, ds, session):  # noqa: F811
    s = publish(client, ds)
    nurse = _as(app, ds, "nurse")
    assert "出院小结 · 本院小结" in nurse.get("/console/").get_data(as_text=True)
    listed = nurse.get(f"{BASE}/summaries").get_data(as_text=True)
    assert f'id="summary-{s["id"]}"' in listed and "张**" in listed and "内科" in listed
    assert "张病人" not in listed and "糖尿病" not in listed and "二甲双胍" not in listed
    page = nurse.get(f"{BASE}/summaries/{s['id']}").get_data(as_text=True)
    assert 'id="do-reveal"' in page and "糖尿病" not in page and "张**" in page
    assert _audits(session) == []  # opening the page reads nothing

    refused = post(nurse, f"{BASE}/summaries/{s['id']}", {"reason": ""}, page=f"{BASE}/summaries")
    assert refused.status_code == 422 and "糖尿病" not in refused.get_data(as_text=True)
    assert _audits(session) == []
    shown = post(nurse, f"{BASE}/summaries/{s['id']}", {"reason": "电话随访前核对用药"}, page=f"{BASE}/summaries")
    text = shown.get_data(as_text=True)
    assert shown.status_code == 200 and "2型糖尿病" in text and "二甲双胍片" in text and "张病人" not in text
    [entry] = _audits(session)
    assert entry.actor_account_id == ds.id("nurse") and entry.reason == "电话随访前核对用药"
    assert entry.subject_person_id == ds.accounts["patient"].person_id

    # The follow-up is a ticket in the team's queue; its page links to the summary, not its content.
    session.expire_all()
    follow_up = session.scalar(sa.select(Ticket.id).where(Ticket.scenario == "discharge-summary"))
    assert f"/console/tickets/{follow_up}" in nurse.get("/console/w/discharge-summary/queue").get_data(as_text=True)
    ticket = nurse.get(f"/console/tickets/{follow_up}").get_data(as_text=True)
    assert f'href="{BASE}/summaries/{s["id"]}"' in ticket and "糖尿病" not in ticket


def test_another_hospital_gets_the_404_page(app, client, ds, session):  # noqa: F811
    s = publish(client, ds)
    other = _as(app, ds, "other_clerk")
    assert f'id="summary-{s["id"]}"' not in other.get(f"{BASE}/summaries").get_data(as_text=True)
    assert other.get(f"{BASE}/summaries/{s['id']}").status_code == 404
    assert post(other, f"{BASE}/summaries/{s['id']}", {"reason": "想看看"}).status_code == 404
    assert other.get(f"{BASE}/summaries/999999").status_code == 404
    assert _audits(session) == []
