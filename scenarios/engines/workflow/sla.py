"""A ticket's SLA clock: the calendar it counts in, its due times, and the timers that fire
when they pass (``workflow.response`` at the levels of the scenario's escalation policy,
``workflow.resolution``).

The calendar is 24/7 or the platform's business calendar (``app.calendar``: working hours,
holidays and make-up working days 调休) with the policy's working hours. The response
timers are the scenario's escalation chain (``WorkflowConfig.escalation_policy``) started at
the response target (by default level 1 then, level 2 one target later); only levels not
reached yet are armed (a repeating last step is re-armed by its handler). Pausing (waiting
for the reporter) stores the remaining working time and cancels the timers; resuming re-arms
them from the time left.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app import chains
from app.calendar import Calendar, business_calendar
from app.escalation import Policy
from app.timers import cancel as cancel_timers
from app.timers import schedule_many
from scenarios.engines.workflow.config import config_for, default_escalation
from scenarios.engines.workflow.models import (
    RESOLUTION_KIND,
    RESPONSE_KIND,
    RESPONSE_PENDING,
    SUBJECT,
    SlaPolicy,
    Ticket,
)

Due = tuple[str, int, datetime]
"""A timer to arm: (kind, level, due)."""


def calendar_for(session: Session, policy: SlaPolicy) -> Calendar:
    """The calendar a policy counts in."""
    if policy.calendar == "24x7":
        return Calendar("24x7")
    return business_calendar(session, work_start_minute=policy.work_start_minute,
                             work_end_minute=policy.work_end_minute)


def ticket_calendar(session: Session, ticket: Ticket) -> Calendar:
    if ticket.calendar == "24x7":
        return Calendar("24x7")
    return calendar_for(session, session.get(SlaPolicy, ticket.sla_policy_id))


FALLBACK_POLICY = default_escalation(("manager", "admin"), ("supervisor",))
"""The chain of a ticket whose scenario is not installed (its configuration gone)."""


def escalation_policy(session: Session, scenario: str, version: int = 0) -> Policy:
    """The chain of a ticket of ``scenario`` filed under chain ``version`` (``app.chains``: 0 is
    the scenario's declared chain; a later one was set by a district administrator)."""
    config = config_for(scenario)
    return chains.policy(session, config.chain_terms, version) if config is not None else FALLBACK_POLICY


def response_timers(session: Session, ticket: Ticket, cal: Calendar) -> list[Due]:
    """Escalation timers for the listed levels not reached yet, the chain started at the
    response target (its ``after=None`` limits are the response target in ``cal``)."""
    if ticket.response_due_at is None:
        return []
    policy = escalation_policy(session, ticket.scenario, ticket.escalation_version)
    return [(RESPONSE_KIND, level, due) for level, due in policy.dues(
        ticket.response_due_at, above=ticket.escalation_level, target=ticket.response_minutes * 60, add=cal.add)]


def resolution_timers(ticket: Ticket) -> list[Due]:
    if ticket.resolution_due_at is not None and not ticket.resolution_breached:
        return [(RESOLUTION_KIND, 1, ticket.resolution_due_at)]
    return []


def arm(session: Session, ticket: Ticket, timers: list[Due]) -> None:
    schedule_many(session, subject_type=SUBJECT, subject_id=ticket.id, timers=timers)


def cancel(session: Session, ticket: Ticket, kind: str | None = None) -> None:
    cancel_timers(session, subject_type=SUBJECT, subject_id=ticket.id, kind=kind)


def start_clocks(session: Session, ticket: Ticket, cal: Calendar, now: datetime, *,
                 resolution_due_at: datetime | None = None) -> list[Due]:
    """Set a new (or reopened) ticket's due times from ``now``; the timers they need. A scenario's
    own ``resolution_due_at`` (``WorkflowConfig.resolution_due``) replaces the policy's minutes."""
    ticket.response_due_at = cal.add(now, ticket.response_minutes * 60)
    ticket.resolution_due_at = (resolution_due_at if resolution_due_at is not None
                                else cal.add(now, ticket.resolution_minutes * 60) if ticket.resolution_minutes
                                else None)
    ticket.due_at = ticket.response_due_at
    return response_timers(session, ticket, cal) + resolution_timers(ticket)


def restart_response(session: Session, ticket: Ticket, now: datetime) -> None:
    """A new owner answers within its own target: the response clock starts again from ``now``."""
    cal = ticket_calendar(session, ticket)
    ticket.response_due_at = cal.add(now, ticket.response_minutes * 60)
    ticket.escalation_level = 0
    arm(session, ticket, response_timers(session, ticket, cal))


def respond(session: Session, ticket: Ticket, now: datetime) -> bool:
    """Record a response; True when it is late. An escalation already fired makes it late,
    so a ticket is never both answered in time and escalated."""
    late = ticket.escalation_level > 0 or (ticket.response_due_at is not None and now > ticket.response_due_at)
    if ticket.first_response_at is None:
        ticket.first_response_at = now
        ticket.response_breached = ticket.response_breached or late
    cancel(session, ticket, RESPONSE_KIND)
    return late


def pause(session: Session, ticket: Ticket, now: datetime) -> None:
    """Store the remaining (working) time of the running clocks and cancel their timers."""
    cal = ticket_calendar(session, ticket)
    ticket.paused_at = now
    ticket.paused_from_status = ticket.status
    if ticket.status in RESPONSE_PENDING and ticket.response_due_at is not None:
        ticket.response_remaining_seconds = max(0, int(cal.seconds_between(now, ticket.response_due_at)))
        cancel(session, ticket, RESPONSE_KIND)
    if ticket.resolution_due_at is not None and not ticket.resolution_breached:
        ticket.resolution_remaining_seconds = max(0, int(cal.seconds_between(now, ticket.resolution_due_at)))
        cancel(session, ticket, RESOLUTION_KIND)


def resume(session: Session, ticket: Ticket, now: datetime) -> None:
    """New due times from the stored remaining time; timers re-armed."""
    cal = ticket_calendar(session, ticket)
    if ticket.response_remaining_seconds is not None:
        ticket.response_due_at = cal.add(now, ticket.response_remaining_seconds)
        ticket.response_remaining_seconds = None
        arm(session, ticket, response_timers(session, ticket, cal))
    if ticket.resolution_remaining_seconds is not None:
        ticket.resolution_due_at = cal.add(now, ticket.resolution_remaining_seconds)
        ticket.resolution_remaining_seconds = None
        arm(session, ticket, resolution_timers(ticket))
    ticket.paused_at = None
    ticket.paused_from_status = None
