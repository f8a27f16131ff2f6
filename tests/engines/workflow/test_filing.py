"""The PostgreSQL fast path of filing a ticket (scenarios/engines/workflow/filing.py) writes
what the ORM path writes: here its managers' notifications against ``notifications.tell``
(the ticket, its event and timers: the answer-equals-GET tests and the SLA tests)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.notify.models import OutboxMessage
from app.timers import Timer
from auth.models import Membership
from scenarios.engines.workflow import notifications as notify
from scenarios.engines.workflow.filing import tell_org_staff
from scenarios.property_repair import CONFIG
from tests.support.workflow import report, ticket_row

# For every test: an app context for the factories, and rate-limit counters reset before and after.
pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")


def _written(session, key: str) -> list[tuple]:
    """The outbox rows of ``key`` in id order, each with its delivery timer (ids left out)."""
    session.expire_all()
    rows = session.execute(
        sa.select(OutboxMessage, Timer).join(Timer, sa.and_(Timer.subject_type == "outbox",
                                                           Timer.subject_id == sa.cast(OutboxMessage.id, sa.String)))
        .where(OutboxMessage.event_key.like(f"%:{key}")).order_by(OutboxMessage.id)).all()
    return [(m.recipient_kind, m.recipient_id, m.channel, m.template, m.payload, m.urgent, m.state, m.attempts,
             m.created_at, m.updated_at, t.kind, t.level, t.due_at, t.state, t.attempts, t.created_at)
            for m, t in rows]


def test_telling_the_managers_in_one_statement_writes_what_tell_writes(client, wf, session, clock):
    ticket = ticket_row(session, report(client, wf)["id"])
    session.execute(sa.update(Membership).where(Membership.account_id == wf.id("tech_a2")).values(status="disabled"))
    cases = {"managers": ("manager",), "handlers": ("manager", "technician"), "nobody": ("chauffeur",)}
    for key, roles in cases.items():
        fast = tell_org_staff(session, clock, ticket, key=f"fast-{key}", template="wf.ticket_created", roles=roles,
                              config=CONFIG)
        if session.get_bind().dialect.name != "postgresql":
            assert fast is False and not _written(session, f"fast-{key}")  # SQLite: the caller uses tell
            continue
        assert fast is True
        notify.tell(session, clock, ticket, key=f"slow-{key}", template="wf.ticket_created",
                    recipients=notify.org_staff(session, ticket.org_id, roles), config=CONFIG)
        assert _written(session, f"fast-{key}") == _written(session, f"slow-{key}") != []
        # a repeat is a no-op, as with tell
        tell_org_staff(session, clock, ticket, key=f"fast-{key}", template="wf.ticket_created", roles=roles,
                       config=CONFIG)
        assert len(_written(session, f"fast-{key}")) == len(_written(session, f"slow-{key}"))
    if session.get_bind().dialect.name == "postgresql":
        kinds = {key: [(r[0], r[1]) for r in _written(session, f"fast-{key}")] for key in cases}
        assert kinds["managers"] == [("account", str(wf.id("manager_a")))]
        assert kinds["handlers"] == sorted([("account", str(wf.id(n))) for n in ("manager_a", "tech_a")],
                                           key=lambda r: int(r[1]))
        assert kinds["nobody"] == [("org", str(ticket.org_id))]
