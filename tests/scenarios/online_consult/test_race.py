"""A race on PostgreSQL through gunicorn (3 workers × 4 threads): the hospital's doctors deciding
the same consultation at once — half renewing, half asking the patient in. The ticket's row lock
makes one decision: one renewal with one pass, or none; the others 409."""
from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from flask import Flask

from app.clock import SystemClock
from app.demo import as_resident
from qr.keys import init_keys
from qr.models import QrPass
from scenarios.engines.workflow import service as svc
from scenarios.online_consult import CONFIG
from scenarios.online_consult.models import OcConsult, OcRenewal
from tests.scenarios.online_consult.test_online_consult import FUDAN, RENEWAL, visit
from tests.support.database import backend
from tests.support.factories import bearer, make_resident, make_staff, token_for
from tests.support.gunicorn import post_json
from tests.support.qr import make_keyring
from tests.support.reports import org

pytestmark = pytest.mark.skipif(backend() != "postgresql", reason="needs PostgreSQL and gunicorn processes")

N = 8


def _world(db, app) -> tuple[int, list[dict[str, str]]]:
    clock = SystemClock()
    stand_in = Flask("consult-race")
    stand_in.extensions = app.extensions
    with stand_in.app_context(), db.transaction() as s:
        init_keys(s, kek=make_keyring(app, db, clock)._kek, clock=clock)
        hospital = org(s, FUDAN)
        patient = make_resident(s, name="竞争患者", id_no="310116196001011235", level="verified")
        visit(s, clock, patient, FUDAN, commit=False)
        ticket = svc.create(s, clock=clock, principal=as_resident(patient), config=CONFIG, data={
            "category": "复诊续方", "text": "续方", "hospital": FUDAN, "department": "内科", "symptoms": "平稳",
            "renew": [{"medicine": "氨氯地平片"}]}).ticket
        doctors = [bearer(token_for(s, clock, make_staff(s, hospital, "doctor"), hospital)) for _ in range(N)]
    if (own := app.extensions.get("qr_keyring")) is not None:
        own.reload()
    return ticket.id, doctors


def test_doctors_deciding_at_once_decide_once(committed_db, _app, gunicorn):
    tid, doctors = _world(committed_db, _app)
    go = threading.Barrier(N)

    def decide(i: int) -> tuple[int, str | None]:
        action, body = ("renew", RENEWAL) if i % 2 == 0 else ("come-in", {"note": "请来院"})
        go.wait()
        status, answer = post_json(f"{gunicorn}/api/v1/online-consult/tickets/{tid}/{action}", body, doctors[i])
        return status, answer.get("code")

    with ThreadPoolExecutor(N) as pool:
        answers = Counter(pool.map(decide, range(N)))
    assert answers[(200, None)] == 1, answers
    assert set(answers) - {(200, None)} <= {(409, "consult_decided"), (409, "invalid_transition")}, answers
    with committed_db.transaction(write=False) as s:
        outcome = s.scalar(sa.select(OcConsult.outcome).where(OcConsult.ticket_id == tid))
        renewals = s.scalar(sa.select(sa.func.count()).select_from(OcRenewal).where(OcRenewal.ticket_id == tid))
        passes = s.scalar(sa.select(sa.func.count()).select_from(QrPass).where(QrPass.ref == f"prescription:{tid}"))
    assert (renewals, passes) == ((1, 1) if outcome == "renewed" else (0, 0))
