"""The workflow engine's fast paths (scenarios/engines/workflow/fastpath.py) write what its
plain paths write: the same inputs go through both on PostgreSQL, and every row written is
compared (ids and the numbers made from them aside). On SQLite only the plain path exists."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from app.db import FAST_PATHS, fast_paths_apply
from app.notify.models import OutboxMessage
from app.timers import Timer
from auth.models import Membership
from auth.principal import Principal
from scenarios.engines.workflow import escalation
from scenarios.engines.workflow import service as svc
from scenarios.engines.workflow.models import Ticket, TicketEvent
from scenarios.engines.workflow.numbers import BLOCK
from tests.engines.workflow.scenario import CONFIG
from tests.support.database import backend
from tests.support.workflow import build_world

pytestmark = [pytest.mark.skipif(backend() != "postgresql", reason="fast paths are PostgreSQL's"),
              pytest.mark.usefixtures("ctx", "reset_rate_limits")]

_SKIP = {"id", "number", "ticket_id", "event_id"}


def _columns(row: Any, skip: set[str] = _SKIP) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns if c.key not in skip}


def written(session, ticket_id: int) -> dict[str, Any]:
    """Every row filing wrote for the ticket, without ids: the ticket, its trail, its timers,
    its notifications with their delivery timers."""
    session.expire_all()
    ticket = session.get(Ticket, ticket_id)
    events = session.scalars(sa.select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
                             .order_by(TicketEvent.id)).all()
    timers = session.scalars(sa.select(Timer).where(Timer.subject_type == "wf_ticket",
                                                    Timer.subject_id == str(ticket_id))
                             .order_by(Timer.kind, Timer.level)).all()
    outbox = session.execute(
        sa.select(OutboxMessage, Timer)
        .join(Timer, sa.and_(Timer.subject_type == "outbox", Timer.subject_id == sa.cast(OutboxMessage.id, sa.String)))
        .where(OutboxMessage.event_key.like(f"wf:{ticket_id}:%")).order_by(OutboxMessage.id)).all()

    def message(m: OutboxMessage, t: Timer) -> tuple:
        payload = {k: v for k, v in m.payload.items() if k not in ("ticket_id", "number", "ticket_no")}
        key = m.event_key.replace(f"wf:{ticket_id}:", "wf:<id>:")
        return (key, _columns(m, _SKIP | {"event_key", "payload", "created_at", "updated_at"}), payload,
                _columns(t, _SKIP | {"subject_id", "created_at"}))

    return {
        "ticket": _columns(ticket),
        "number": ticket.number[:-BLOCK],  # the head; the block is random either way
        "events": [_columns(e) for e in events],
        "timers": [_columns(t, _SKIP | {"subject_id", "created_at"}) for t in timers],
        "outbox": [message(m, t) for m, t in outbox],
    }


def file_both_ways(session, clock, principal, config, data) -> tuple[dict, dict]:
    """The same report filed through the fast paths, then through the plain paths."""
    results = []
    for fast in (True, False):
        session.info[FAST_PATHS] = fast
        assert fast_paths_apply(session) is fast
        created = svc.create(session, clock=clock, principal=principal, config=config, data=data)
        session.flush()
        results.append(written(session, created.ticket.id))
    session.info.pop(FAST_PATHS)
    return results[0], results[1]


def resident(account) -> Principal:
    return Principal("resident", account_id=account.id, person_id=account.person_id)


def test_filing_writes_the_same_rows_either_way(app, session, clock):
    wf = build_world(session, clock)
    fast, plain = file_both_ways(session, clock, resident(wf.accounts["alice"]), CONFIG,
                                 {"category": "水电", "text": "厨房水管漏水", "details": {"public_area": False}})
    assert fast == plain
    assert fast["number"].startswith("WT") and len(fast["timers"]) == 3
    assert [o[1]["recipient_id"] for o in fast["outbox"]] == [str(wf.id("manager_a"))]


def test_telling_managers_when_there_are_none_or_several(app, session, clock):
    """The fast statement's recipients query against ``org_staff``: several managers, a disabled
    one left out, and none at all (the organisation itself is told)."""
    wf = build_world(session, clock)
    company = wf.orgs["manager_a"]
    from tests.support.factories import make_staff

    second = make_staff(session, company, "manager")
    gone = make_staff(session, company, "manager")
    session.execute(sa.update(Membership).where(Membership.account_id == gone.id).values(status="disabled"))
    fast, plain = file_both_ways(session, clock, resident(wf.accounts["alice"]), CONFIG,
                                 {"category": "电梯", "text": "电梯停了"})
    assert fast == plain
    assert {o[1]["recipient_id"] for o in fast["outbox"]} == {str(wf.id("manager_a")), str(second.id)}
    session.execute(sa.update(Membership).where(Membership.organisation_id == company.id,
                                                Membership.role == "manager").values(status="disabled"))
    fast, plain = file_both_ways(session, clock, resident(wf.accounts["alice"]), CONFIG,
                                 {"category": "门窗", "text": "窗户坏了"})
    assert fast == plain
    assert [(o[1]["recipient_kind"], o[1]["recipient_id"]) for o in fast["outbox"]] == [("org", str(company.id))]


def test_escalation_events_are_the_same_rows_either_way(app, session, clock):
    wf = build_world(session, clock)
    principal = resident(wf.accounts["alice"])
    ids = [svc.create(session, clock=clock, principal=principal, config=CONFIG,
                      data={"category": "水电", "text": f"漏水 {i}"}).ticket.id for i in range(2)]
    now = clock.now() + timedelta(minutes=31)
    session.info[FAST_PATHS] = True
    escalation._events(session, now, "escalate", [(ids[0], {"level": 1, "cycle": 0})])
    session.info[FAST_PATHS] = False
    escalation._events(session, now, "escalate", [(ids[1], {"level": 1, "cycle": 0})])
    session.info.pop(FAST_PATHS)
    rows = [[_columns(e) for e in session.scalars(sa.select(TicketEvent).where(
        TicketEvent.ticket_id == tid, TicketEvent.action == "escalate"))] for tid in ids]
    assert rows[0] == rows[1] != []
