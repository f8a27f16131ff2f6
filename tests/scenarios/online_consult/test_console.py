"""A hospital's doctors in the console: consultations waiting in the engine's queue, the
request's health data only after a reason (the API's audited read, with that reason), and the
answer on the ticket page — renew with medicine rows (the API's limits refused the same way)
or ask the patient to come in; another hospital gets the 404 page, other staff the 403 page."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from auth.models import AuditEntry
from scenarios.engines.workflow.models import Ticket
from scenarios.online_consult.models import OcConsult, OcRenewal
from tests.scenarios.online_consult.test_online_consult import ask, oc  # noqa: F401  (fixtures)
from tests.support.console import post, sign_in

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits", "keyring")
QUEUE = "/console/w/online-consult/queue"


def _as(app, wf, who: str):
    client = app.test_client()
    sign_in(client, wf.accounts[who].username)
    return client


def _reads(session) -> list[AuditEntry]:
    session.expire_all()
    return list(session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "read_consult")))


def _renew(client, tid: int, session, rows: list[dict]) -> object:
    session.expire_all()
    form = {"version": str(session.get(Ticket, tid).version)}
    for i, row in enumerate(rows):
        form.update({f"items-{i}-{k}": str(v) for k, v in row.items()})
    return post(client, f"/console/tickets/{tid}/renew", form, page=QUEUE)


def test_a_doctor_reads_the_request_with_a_reason_and_renews(app, client, oc, session):  # noqa: F811
    tid = ask(client, oc)["id"]
    doctor = _as(app, oc, "doctor")
    assert f"/console/tickets/{tid}" in doctor.get(QUEUE).get_data(as_text=True)
    page = doctor.get(f"/console/tickets/{tid}").get_data(as_text=True)
    request_url = f"/console/consult/tickets/{tid}/request"
    assert f'href="{request_url}"' in page and "130/80" not in page
    assert 'id="do-renew"' in page and 'name="items-0-medicine"' in page and 'id="do-come-in"' in page

    masked = doctor.get(request_url).get_data(as_text=True)
    assert 'id="do-reveal"' in masked and "130/80" not in masked and _reads(session) == []
    assert post(doctor, request_url, {"reason": " "}, page=QUEUE).status_code == 422 and _reads(session) == []
    shown = post(doctor, request_url, {"reason": "接诊复诊续方申请"}, page=QUEUE).get_data(as_text=True)
    assert "血压平稳 130/80" in shown and "氨氯地平片" in shown
    [entry] = _reads(session)
    assert entry.actor_account_id == oc.id("doctor") and entry.reason == "接诊复诊续方申请"

    # The API's limits, with the field at fault; nothing issued.
    beyond = _renew(doctor, tid, session, [{"medicine": "氨氯地平片", "dose": "5mg qd", "quantity": 999, "days": 28}])
    assert beyond.status_code == 422 and "items" in beyond.get_data(as_text=True)
    unknown = _renew(doctor, tid, session, [{"medicine": "吗啡", "dose": "1", "quantity": 1, "days": 1}])
    assert unknown.status_code == 422 and "不能在线续方" in unknown.get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(OcRenewal)) == 0
    done = _renew(doctor, tid, session, [{"medicine": "氨氯地平片", "dose": "5mg 每日一次", "quantity": 4, "days": 28}])
    assert done.status_code == 302, done.get_data(as_text=True)[-500:]
    session.expire_all()
    assert session.get(OcConsult, tid).outcome == "renewed" and session.get(Ticket, tid).status == "resolved"
    [renewal] = session.scalars(sa.select(OcRenewal)).all()
    assert renewal.items == [{"medicine": "氨氯地平片", "dose": "5mg 每日一次", "quantity": 4, "days": 28}]


def test_come_in_and_who_may_read(app, client, oc, session):  # noqa: F811
    tid = ask(client, oc)["id"]
    request_url = f"/console/consult/tickets/{tid}/request"
    assert _as(app, oc, "other_doctor").get(request_url).status_code == 404
    assert post(_as(app, oc, "other_doctor"), request_url, {"reason": "看看"}).status_code == 404
    clerk = _as(app, oc, "clerk")
    assert clerk.get(f"/console/tickets/{tid}").status_code == 200  # the hospital's clerk sees the ticket,
    assert clerk.get(request_url).status_code == 403  # but is no reader of its health data
    assert post(clerk, request_url, {"reason": "看看"}).status_code == 403
    assert _reads(session) == []
    doctor = _as(app, oc, "doctor")
    session.expire_all()
    resp = post(doctor, f"/console/tickets/{tid}/come-in", {"note": "请来院复查血压",
                                                            "version": str(session.get(Ticket, tid).version)},
                page=QUEUE)
    assert resp.status_code == 302
    session.expire_all()
    assert session.get(OcConsult, tid).outcome == "come_in"
