"""Escalation through the timers table and the worker, with a frozen clock: level 1 at the
response target to the company's managers, level 2 at twice the target to 区房管局's
supervisors; each once; acknowledgement cancels; the handler re-checks the ticket."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.timers import Timer, schedule
from scenarios.engines.workflow.models import Ticket
from tests.support.workflow import act, add_residence, events, get, outbox, report, run_worker, ticket_row, timers_of

# For every test: an app context for the factories, and rate-limit counters reset before and after.
pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")


def escalations(session, tid: int) -> list[int]:
    return [e.data["level"] for e in events(session, tid, "escalate")]


def test_levels_fire_at_the_target_and_twice_the_target_each_once(client, wf, clock, db, session):
    tid = report(client, wf)["id"]
    assert set(timers_of(session, tid)) == {("workflow.response", 1), ("workflow.response", 2),
                                            ("workflow.resolution", 1)}
    clock.advance(minutes=29, seconds=59)
    run_worker(db, clock)
    assert escalations(session, tid) == []

    clock.advance(seconds=1)
    run_worker(db, clock)
    run_worker(db, clock)
    assert escalations(session, tid) == [1]
    manager_a, supervisor = str(wf.id("manager_a")), str(wf.id("supervisor"))
    assert outbox(session, tid, "wf.escalated") == [("wf.escalated", "account", manager_a)]
    t = ticket_row(session, tid)
    assert (t.escalation_level, t.response_breached, t.status) == (1, True, "submitted")
    assert get(client, wf, "manager_a", f"tickets/{tid}")["sla"]["overdue"] is False  # due now, not past
    clock.advance(seconds=1)
    assert get(client, wf, "manager_a", f"tickets/{tid}")["sla"]["overdue"] is True

    clock.advance(minutes=30)
    run_worker(db, clock)
    clock.advance(hours=3)
    run_worker(db, clock)
    assert escalations(session, tid) == [1, 2]
    level2 = outbox(session, tid, "wf.escalated")
    assert ("wf.escalated", "account", supervisor) in level2
    # Only the bureau's supervisors, never its other staff or the other company.
    told = {r[2] for r in level2}
    assert str(wf.id("bureau_staff")) not in told and str(wf.id("manager_b")) not in told
    assert str(wf.id("tech_a")) not in told
    assert ticket_row(session, tid).escalation_level == 2
    assert {k: v[0] for k, v in timers_of(session, tid).items() if k[0] == "workflow.response"} == {
        ("workflow.response", 1): "fired", ("workflow.response", 2): "fired"}

    # The supervisor sees it among the escalated tickets of the companies they supervise.
    page = get(client, wf, "supervisor", "escalated")
    assert [i["id"] for i in page["items"]] == [tid] and page["items"][0]["escalation_level"] == 2

    # Acknowledged now: late, and nothing fires again.
    acked = act(client, wf, "manager_a", tid, "acknowledge")
    assert acked["events"][-1]["data"]["late"] is True and acked["sla"]["response_breached"] is True


def test_acknowledgement_in_time_cancels_the_escalation(client, wf, clock, db, session):
    tid = report(client, wf)["id"]
    clock.advance(minutes=10)
    acked = act(client, wf, "tech_a", tid, "acknowledge")
    assert acked["events"][-1]["data"] == {"late": False}
    states = timers_of(session, tid)
    assert states[("workflow.response", 1)][0] == states[("workflow.response", 2)][0] == "cancelled"
    assert states[("workflow.resolution", 1)][0] == "pending"  # the resolution clock still runs
    clock.advance(hours=2)
    run_worker(db, clock)
    assert escalations(session, tid) == [] and outbox(session, tid, "wf.escalated") == []
    assert ticket_row(session, tid).response_breached is False


def test_acknowledgement_after_level_1_is_late_and_level_2_never_fires(client, wf, clock, db, session):
    tid = report(client, wf)["id"]
    clock.advance(minutes=31)
    run_worker(db, clock)
    clock.advance(minutes=5)
    acked = act(client, wf, "manager_a", tid, "acknowledge")
    assert acked["events"][-1]["data"] == {"late": True}
    clock.advance(hours=1)
    run_worker(db, clock)
    assert escalations(session, tid) == [1]
    assert timers_of(session, tid)[("workflow.response", 2)][0] == "cancelled"


def test_late_answer_without_escalation_yet_is_late_but_not_escalated(client, wf, clock, db, session):
    """The worker is behind: the answer comes after the deadline, before the sweep."""
    tid = report(client, wf)["id"]
    clock.advance(minutes=31)
    acked = act(client, wf, "manager_a", tid, "assign", {"assignee_account_id": wf.id("tech_a")})
    assert acked["events"][-1]["data"]["late"] is True
    run_worker(db, clock)
    assert escalations(session, tid) == []


def test_the_handler_rechecks_the_ticket(client, wf, clock, db, session):
    """A timer left pending on an answered ticket (it cannot happen through the services)
    finds the ticket acknowledged and does nothing."""
    tid = report(client, wf)["id"]
    act(client, wf, "manager_a", tid, "acknowledge")
    schedule(session, subject_type="wf_ticket", subject_id=tid, kind="workflow.response", level=1,
             due_at=clock.now())
    session.commit()
    run_worker(db, clock)
    assert escalations(session, tid) == []
    assert timers_of(session, tid)[("workflow.response", 1)][0] == "fired"


def test_reopen_rearms_the_escalation_for_the_new_cycle(client, wf, clock, db, session):
    tid = report(client, wf)["id"]
    clock.advance(minutes=31)
    run_worker(db, clock)
    act(client, wf, "manager_a", tid, "resolve", {"note": "已修"})
    clock.advance(days=1)
    act(client, wf, "alice", tid, "reopen", {"reason": "又坏了"})
    assert ticket_row(session, tid).escalation_level == 0
    clock.advance(minutes=31)
    run_worker(db, clock)
    cycles = [(e.data["cycle"], e.data["level"]) for e in events(session, tid, "escalate")]
    assert cycles == [(0, 1), (1, 1)]
    assert len(outbox(session, tid, "wf.escalated")) == 2  # one per cycle, distinct event keys


def test_resolution_target_missed_tells_the_managers(client, wf, clock, db, session):
    tid = report(client, wf)["id"]
    act(client, wf, "manager_a", tid, "assign", {"assignee_account_id": wf.id("tech_a")})
    clock.advance(hours=24, seconds=1)
    run_worker(db, clock)
    assert [e.action for e in events(session, tid)][-1] == "resolution_overdue"
    assert ticket_row(session, tid).resolution_breached is True
    assert outbox(session, tid, "wf.resolution_overdue") == [
        ("wf.resolution_overdue", "account", str(wf.id("manager_a")))]
    resolved = act(client, wf, "tech_a", tid, "resolve", {"note": "修好了"})
    assert resolved["sla"]["resolution_breached"] is True


def test_a_paused_ticket_does_not_escalate(client, wf, clock, db, session):
    tid = report(client, wf)["id"]
    act(client, wf, "manager_a", tid, "acknowledge")
    act(client, wf, "manager_a", tid, "request-info", {"note": "请补充照片"})
    clock.advance(days=3)
    run_worker(db, clock)
    assert [e.action for e in events(session, tid)][-1] == "request_info"
    assert ticket_row(session, tid).resolution_breached is False


def test_final_states_stop_every_clock(client, wf, clock, db, session):
    tid = report(client, wf)["id"]
    act(client, wf, "manager_a", tid, "reject", {"reason": "重复报修"})
    assert {v[0] for v in timers_of(session, tid).values()} == {"cancelled"}
    clock.advance(days=2)
    run_worker(db, clock)
    assert escalations(session, tid) == []


def test_no_managers_means_the_organisation_itself_is_told_and_no_bureau_without_supervisor(
        client, wf, clock, db, session):
    add_residence(session, wf.accounts["carol"], wf.world.unmanaged, room="501")
    wf.session.execute(sa.text("UPDATE memberships SET status = 'disabled' WHERE account_id = :a"),
                       {"a": wf.id("housing_manager")})
    session.commit()
    tid = report(client, wf, "carol")["id"]
    assert outbox(session, tid, "wf.ticket_created") == [("wf.ticket_created", "org", str(wf.world.housing_office.id))]
    clock.advance(hours=1)
    run_worker(db, clock)
    assert escalations(session, tid) == [1, 2]
    # The test world's housing office has no supervising organisation: level 2 reaches only it.
    assert {r[1] for r in outbox(session, tid, "wf.escalated")} == {"org"}


def test_timers_are_created_with_the_ticket_in_its_transaction(client, wf, session):
    before = session.scalar(sa.select(sa.func.count()).select_from(Timer).where(Timer.subject_type == "wf_ticket"))
    report(client, wf, category="装修", expect=422)
    after = session.scalar(sa.select(sa.func.count()).select_from(Timer).where(Timer.subject_type == "wf_ticket"))
    assert before == after and session.scalar(sa.select(sa.func.count()).select_from(Ticket)) == 0


def test_escalations_are_urgent_and_other_notices_are_not(client, wf, clock, db, session):
    from app.notify.models import OutboxMessage

    tid = report(client, wf)["id"]
    clock.advance(minutes=31)
    run_worker(db, clock)
    session.expire_all()
    rows = session.execute(sa.select(OutboxMessage.template, OutboxMessage.urgent, OutboxMessage.channel)
                           .where(OutboxMessage.event_key.like(f"wf:{tid}:%"))).all()
    assert {(t, u) for t, u, _ in rows} == {("wf.ticket_created", False), ("wf.escalated", True)}
    assert {c for _, _, c in rows} == {"log"}  # the scenario's channel (WeChat when configured)


def test_one_batch_escalates_many_tickets_in_a_few_statements(client, wf, clock, db, session):
    """The worker's batch of escalations is set-based: one ticket update, one events insert, one
    outbox insert and one recipients query per organisation, however many tickets are due."""
    who = ("alice", "bob", "alice2", "alice", "bob", "alice2")
    ids = [report(client, wf, name)["id"] for name in who]
    clock.advance(minutes=31)
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(" ".join(statement.split()))

    sa.event.listen(db.engine, "before_cursor_execute", seen)
    try:
        run_worker(db, clock)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", seen)
    managers = {"alice": wf.id("manager_a"), "alice2": wf.id("manager_a"), "bob": wf.id("manager_b")}
    for name, tid in zip(who, ids, strict=True):
        assert escalations(session, tid) == [1]
        assert outbox(session, tid, "wf.escalated") == [("wf.escalated", "account", str(managers[name]))]
        assert ticket_row(session, tid).escalation_level == 1
    def count(text: str) -> int:
        return sum(text in s for s in statements)

    assert count("UPDATE wf_tickets SET") == 1
    assert count("INSERT INTO wf_ticket_events") == 1
    assert count("INSERT INTO notify_outbox") == 1
    assert count("INSERT INTO timers") == 1  # the delivery timers (with the outbox rows on PostgreSQL)
    assert count("FROM memberships") == 2  # the recipients: one query per company


def test_a_broken_timer_among_due_escalations_fails_alone(client, wf, clock, db, session):
    """The batch fails on it, rolls back, and the worker fires the batch's timers one by one:
    the tickets escalate in this pass, the broken timer is retried later."""
    ids = [report(client, wf, name)["id"] for name in ("alice", "bob")]
    broken = schedule(session, subject_type="wf_ticket", subject_id="not-a-ticket", kind="workflow.response",
                      level=1, due_at=clock.now())
    session.commit()
    clock.advance(minutes=31)
    run_worker(db, clock)
    for tid in ids:
        assert escalations(session, tid) == [1]
        assert len(outbox(session, tid, "wf.escalated")) == 1
    session.expire_all()
    broken = session.get(Timer, broken.id)
    assert (broken.state, broken.attempts) == ("pending", 1)
    assert broken.last_error.startswith("ValueError at scenarios/engines/workflow/escalation.py:")


@pytest.mark.parametrize("reached", [1, 2])
def test_a_rearmed_timer_for_a_level_already_reached_does_nothing(client, wf, clock, db, session, reached):
    """The guard is ``escalation_level < level``: a level-1 timer re-armed after level 1 (or 2)
    was reached must neither escalate again nor tell anyone again (``<=`` would: one more
    event and the same managers paged twice for one delay)."""
    tid = report(client, wf)["id"]
    clock.advance(minutes=31 if reached == 1 else 61)
    run_worker(db, clock)
    run_worker(db, clock)
    assert escalations(session, tid) == list(range(1, reached + 1))
    before = ticket_row(session, tid)
    told = outbox(session, tid, "wf.escalated")
    for level in range(1, reached + 1):
        schedule(session, subject_type="wf_ticket", subject_id=tid, kind="workflow.response", level=level,
                 due_at=clock.now())
    session.commit()
    clock.advance(seconds=1)
    run_worker(db, clock)
    assert timers_of(session, tid)[("workflow.response", reached)][0] == "fired"  # it did run
    assert escalations(session, tid) == list(range(1, reached + 1))
    after = ticket_row(session, tid)
    assert (after.escalation_level, after.version) == (reached, before.version)
    assert outbox(session, tid, "wf.escalated") == told


def test_both_levels_due_in_one_batch_escalate_in_order_without_falling_back(client, wf, clock, db, session,
                                                                               caplog):
    """A worker that was down: a ticket's levels 1 and 2 are both due and claimed in one batch.
    The batch handler runs them in two rounds, level 1 then 2, itself: no batch failure and
    no fallback to one timer at a time (which would hide a broken batch behind right results)."""
    tids = [report(client, wf, name)["id"] for name in ("alice", "bob")]
    clock.advance(minutes=61)
    caplog.set_level("WARNING", logger="app.worker")
    run_worker(db, clock)
    for tid in tids:
        assert escalations(session, tid) == [1, 2]
        assert ticket_row(session, tid).escalation_level == 2
    assert not [r for r in caplog.records if r.name == "app.worker"], [r.getMessage() for r in caplog.records]
