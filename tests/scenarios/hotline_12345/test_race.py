"""Races on PostgreSQL through gunicorn (3 workers × 4 threads): department staff sending the
same order back at once, and call-takers recording 不满意 at once. The order's row lock makes
each happen once: one send-back (the others find it gone: 404, or moved: 409), one reopen
(the others: 409)."""
from __future__ import annotations

import json
import sys
import threading
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from app.clock import SystemClock
from auth.organisations import Organisation
from scenarios.engines.workflow import service as svc
from scenarios.engines.workflow.models import Ticket, TicketEvent
from scenarios.hotline_12345 import CONFIG
from scenarios.hotline_12345 import service as hl
from tests.support.database import backend
from tests.support.factories import bearer, make_staff, token_for

pytestmark = pytest.mark.skipif(backend() != "postgresql", reason="needs PostgreSQL and gunicorn processes")

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
N = 8


def _world(db, app, *, resolved: bool):
    """An order routed to 区水务局, N of its staff and N call-takers with tokens; with
    ``resolved``, acknowledged, replied to and resolved."""
    clock = SystemClock()
    stand_in = Flask("hotline-race")
    stand_in.extensions = app.extensions
    with stand_in.app_context(), db.transaction() as s:
        orgs = {o.code: o for o in s.scalars(sa.select(Organisation).where(
            Organisation.code.in_(("310116-hotline", "310116-bureau-water"))))}
        office, water = orgs["310116-hotline"], orgs["310116-bureau-water"]
        takers = [make_staff(s, office, "call_taker") for _ in range(N)]
        staff = [make_staff(s, water, "supervisor") for _ in range(N)]
        from app.demo import as_staff

        taker = as_staff(takers[0], office, "call_taker")
        dept = as_staff(staff[0], water, "supervisor")
        ticket = svc.create(s, clock=clock, principal=taker, config=CONFIG, data={
            "category": "供水排水", "text": "竞争：停水", "caller_phone": "13800002222",
            "location": {"lat": 30.7612, "lon": 121.3551}, "priority": "normal"}).ticket
        assert ticket.org_id == water.id
        if resolved:
            kw = {"clock": clock, "config": CONFIG, "ticket_id": ticket.id, "principal": dept}
            svc.acknowledge(s, **kw)
            hl.reply(s, content="已答复", channel="phone", **kw)
            svc.resolve(s, note="已处理", **kw)
        return (ticket.id, [bearer(token_for(s, clock, a, office)) for a in takers],
                [bearer(token_for(s, clock, a, water)) for a in staff])


def _race(url: str, headers: list[dict], body: dict) -> Counter:
    go = threading.Barrier(len(headers))
    answers: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def one(h: dict) -> None:
        request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",  # noqa: S310
                                         headers={**h, "Content-Type": "application/json"})
        go.wait()
        try:
            with urllib.request.urlopen(request, timeout=60) as resp:  # noqa: S310 (ours)
                result = (resp.status, None)
        except urllib.error.HTTPError as exc:
            result = (exc.code, json.loads(exc.read() or b"{}").get("code"))
        with lock:
            answers.append(result)

    threads = [threading.Thread(target=one, args=(h,)) for h in headers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(answers) == len(headers)
    return Counter(answers)


def _events(db, ticket_id: int, action: str) -> int:
    with db.transaction(write=False) as s:
        return s.scalar(sa.select(sa.func.count()).select_from(TicketEvent).where(
            TicketEvent.ticket_id == ticket_id, TicketEvent.action == action))


def test_a_department_racing_itself_sends_an_order_back_once(committed_db, _app, gunicorn):
    tid, _, staff = _world(committed_db, _app, resolved=False)
    answers = _race(f"{gunicorn}/api/v1/hotline-12345/tickets/{tid}/send-back", staff, {"reason": "不属于本局"})
    assert answers[(200, None)] == 1, answers
    losers = sum(n for (status, _), n in answers.items() if status != 200)
    assert losers == N - 1 and set(answers) - {(200, None)} <= {(404, "not_found"), (409, "invalid_transition"),
                                                               (409, "already_sent_back")}, answers
    assert _events(committed_db, tid, "send_back") == 1
    with committed_db.transaction(write=False) as s:
        office = s.scalar(sa.select(Organisation.id).where(Organisation.code == "310116-hotline"))
        assert s.get(Ticket, tid).org_id == office


def test_call_takers_recording_unsatisfied_at_once_reopen_once(committed_db, _app, gunicorn):
    tid, takers, _ = _world(committed_db, _app, resolved=True)
    answers = _race(f"{gunicorn}/api/v1/hotline-12345/tickets/{tid}/satisfaction", takers,
                    {"result": "不满意", "via": "call"})
    assert answers[(200, None)] == 1, answers
    assert sum(answers.values()) - 1 == N - 1
    assert set(answers) - {(200, None)} <= {(409, "invalid_transition"), (409, "satisfaction_recorded")}, answers
    assert _events(committed_db, tid, "reopen_unsatisfied") == 1
    with committed_db.transaction(write=False) as s:
        row = s.get(Ticket, tid)
        assert row.status == "reopened" and row.reopen_count == 1 and len(row.details["satisfaction"]) == 1
