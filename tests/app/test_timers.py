"""The timers table and its services: schedule, cancel, reschedule, pending_for."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app import timers
from app.timers import Timer, cancel, pending_for, reschedule, schedule, timer_handler


def _count(session, **where) -> int:
    stmt = sa.select(sa.func.count()).select_from(Timer)
    for k, v in where.items():
        stmt = stmt.where(getattr(Timer, k) == v)
    return session.scalar(stmt)


def test_schedule_creates_a_pending_timer(session, clock):
    due = clock.now() + timedelta(minutes=30)
    t = schedule(session, subject_type="ticket", subject_id=42, kind="sla.first_response", due_at=due,
                 payload={"policy": "p1"})
    session.flush()
    assert t.id is not None
    assert (t.subject_type, t.subject_id, t.kind, t.level) == ("ticket", "42", "sla.first_response", 0)
    assert (t.state, t.attempts, t.due_at, t.payload) == ("pending", 0, due, {"policy": "p1"})
    assert t.due_at.tzinfo is not None


def test_schedule_again_moves_the_pending_timer(session, clock):
    first = schedule(session, subject_type="ticket", subject_id="7", kind="sla",
                     due_at=clock.now() + timedelta(hours=1), payload={"n": 1})
    later = clock.now() + timedelta(hours=3)
    again = schedule(session, subject_type="ticket", subject_id=7, kind="sla", due_at=later)
    assert again.id == first.id
    assert again.due_at == later
    assert again.payload == {"n": 1}  # kept when not given
    assert _count(session, subject_id="7") == 1
    session.expire_all()
    assert session.get(Timer, first.id).due_at == later


def test_levels_are_separate_timers(session, clock):
    for level in (0, 1, 2):
        schedule(session, subject_type="sos", subject_id="1", kind="ack", level=level,
                 due_at=clock.now() + timedelta(seconds=60 * (level + 1)))
    assert [t.level for t in pending_for(session, subject_type="sos", subject_id="1")] == [0, 1, 2]


def test_schedule_rearms_fired_failed_and_cancelled_timers(session, clock):
    t = schedule(session, subject_type="booking", subject_id="9", kind="hold", due_at=clock.now())
    for old_state in ("fired", "failed", "cancelled"):
        session.execute(sa.update(Timer).where(Timer.id == t.id).values(
            state=old_state, attempts=3, last_error="Boom", fired_at=clock.now()))
        due = clock.advance(minutes=5)
        again = schedule(session, subject_type="booking", subject_id="9", kind="hold", due_at=due)
        assert again.id == t.id
        assert (again.state, again.attempts, again.last_error, again.fired_at, again.due_at) == (
            "pending", 0, None, None, due)


def test_unique_key_is_enforced_by_the_database(session, clock):
    session.add(Timer(subject_type="x", subject_id="1", kind="k", level=0, due_at=clock.now()))
    session.flush()
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(Timer(subject_type="x", subject_id="1", kind="k", level=0, due_at=clock.now()))
        session.flush()


def test_state_must_be_known(session, clock):
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(Timer(subject_type="x", subject_id="1", kind="k", due_at=clock.now(), state="running"))
        session.flush()


def test_naive_due_at_is_refused(session):
    from datetime import datetime

    with pytest.raises(ValueError):
        schedule(session, subject_type="x", subject_id="1", kind="k", due_at=datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        schedule(session, subject_type="x", subject_id="1", kind="k", level=-1, due_at=datetime.now().astimezone())


def test_cancel_by_subject_kind_and_level(session, clock):
    due = clock.now() + timedelta(minutes=1)
    for kind, level in (("a", 0), ("a", 1), ("b", 0)):
        schedule(session, subject_type="ticket", subject_id="1", kind=kind, level=level, due_at=due)
    schedule(session, subject_type="ticket", subject_id="2", kind="a", due_at=due)

    assert cancel(session, subject_type="ticket", subject_id="1", kind="a", level=1) == 1
    assert cancel(session, subject_type="ticket", subject_id="1", kind="a") == 1
    assert cancel(session, subject_type="ticket", subject_id="1", kind="a") == 0
    assert [t.kind for t in pending_for(session, subject_type="ticket", subject_id="1")] == ["b"]
    assert cancel(session, subject_type="ticket", subject_id=1) == 1
    assert pending_for(session, subject_type="ticket", subject_id="1") == []
    assert _count(session, subject_id="1", state="cancelled") == 3
    assert len(pending_for(session, subject_type="ticket", subject_id="2")) == 1  # other subject untouched


def test_cancel_leaves_fired_timers_alone(session, clock):
    t = schedule(session, subject_type="ticket", subject_id="3", kind="a", due_at=clock.now())
    session.execute(sa.update(Timer).where(Timer.id == t.id).values(state="fired"))
    assert cancel(session, subject_type="ticket", subject_id="3") == 0
    session.expire_all()
    assert session.get(Timer, t.id).state == "fired"


def test_reschedule_moves_only_pending_timers(session, clock):
    t = schedule(session, subject_type="ticket", subject_id="4", kind="a", due_at=clock.now())
    later = clock.now() + timedelta(days=1)
    moved = reschedule(session, subject_type="ticket", subject_id="4", kind="a", due_at=later)
    assert moved is not None and moved.id == t.id and moved.due_at == later
    assert reschedule(session, subject_type="ticket", subject_id="4", kind="a", level=1, due_at=later) is None
    assert reschedule(session, subject_type="ticket", subject_id="5", kind="a", due_at=later) is None
    cancel(session, subject_type="ticket", subject_id="4")
    assert reschedule(session, subject_type="ticket", subject_id="4", kind="a", due_at=clock.now()) is None
    assert _count(session, subject_id="5") == 0  # reschedule never creates


def test_pending_for_orders_by_due_time_and_filters_kind(session, clock):
    now = clock.now()
    schedule(session, subject_type="s", subject_id="1", kind="late", due_at=now + timedelta(hours=2))
    schedule(session, subject_type="s", subject_id="1", kind="soon", due_at=now + timedelta(hours=1))
    assert [t.kind for t in pending_for(session, subject_type="s", subject_id="1")] == ["soon", "late"]
    assert [t.kind for t in pending_for(session, subject_type="s", subject_id="1", kind="late")] == ["late"]


def test_a_kind_has_one_handler(monkeypatch):
    monkeypatch.setattr(timers, "HANDLERS", {})

    @timer_handler("demo.kind")
    def first(session, timer, clock):
        pass

    assert timers.handler_for("demo.kind").func is first

    with pytest.raises(ValueError, match="already has a handler"):
        @timer_handler("demo.kind")
        def second(session, timer, clock):
            pass
