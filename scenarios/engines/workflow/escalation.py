"""Timer handlers of the workflow engine, run by the worker in its claiming transaction.

``workflow.response`` (one level per step of the scenario's escalation policy,
``WorkflowConfig.escalation_policy`` or the version of it a district administrator set —
``app.chains`` — that the ticket was filed under, armed with the ticket): each level tells its step's
recipients (``app.escalation``: ``Roles`` of the ``owner``, ``owner_supervisor`` or
``dispatcher``, or ``Supplied`` by the scenario) on its channels. By default level 1 at the
response target tells the owning organisation's managers; level 2 at twice the target tells the
supervisors of the organisation that supervises it (区房管局 for property companies) and of
the organisation that dispatched it (区城运中心 for city reports), and the managers again. A
last step that repeats arms its next level when it fires. Each timer row fires once (the
worker's claim). The handler locks, re-checks and changes the
tickets in one conditional ``UPDATE … RETURNING`` (the row lock of a ``SELECT … FOR
UPDATE`` and the state check, in one round trip): an acknowledgement that committed first
wins and the escalation does nothing, while one that waited behind the escalation finds it
and is recorded late.

``workflow.resolution`` (level 1) marks the resolution target missed and tells the managers.

Both kinds are handled a batch at a time (``batch_handler``; the worker claims 100 timers):
one ``UPDATE … RETURNING`` for all the batch's tickets of a level, one insert of their
events, one of their outbox rows with those rows' delivery timers (two statements on SQLite),
whatever the batch size — a few statements per batch instead of a few per ticket. On PostgreSQL the update
takes the tickets' row locks in id order (a ``FOR UPDATE`` sub-select), so two workers
whose batches share tickets cannot deadlock; the timers were locked before (the claim), so
the order stays timer → ticket as for every change of a ticket (service.py). The single
handlers are the batch ones applied to one timer: the worker uses them when a batch fails.
Nothing here reaches the outside world: deliveries are the outbox's own timers.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from functools import cache

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import escalation as chain
from app.clock import Clock
from app.db import fast_paths_apply
from app.metrics import SLA_BREACHES, count_after_commit
from app.notify.service import Notice, enqueue_many
from app.timers import Timer, batch_handler, schedule_many, timer_handler
from scenarios.engines.workflow import fastpath
from scenarios.engines.workflow import notifications as notify
from scenarios.engines.workflow.config import WorkflowConfig, config_for
from scenarios.engines.workflow.models import (
    OPEN_STATUSES,
    RESOLUTION_KIND,
    RESPONSE_KIND,
    RESPONSE_PENDING,
    SUBJECT,
    Ticket,
    TicketEvent,
)
from scenarios.engines.workflow.sla import escalation_policy, ticket_calendar

log = logging.getLogger("workflow.escalation")

FALLBACK = {"manager_roles": ("manager", "admin")}


def _roles(config: WorkflowConfig | None, name: str) -> tuple[str, ...]:
    return getattr(config, name) if config is not None else FALLBACK[name]


@dataclass(frozen=True)
class Escalated:
    """What the handler needs of a ticket it changed (from ``UPDATE … RETURNING``)."""

    id: int
    org_id: int
    dispatch_org_id: int | None
    number: str | None
    scenario: str
    status: str
    reopen_count: int
    escalation_version: int


_T = Ticket.__table__
_RETURNING = (_T.c.id, _T.c.org_id, _T.c.dispatch_org_id, _T.c.number, _T.c.scenario, _T.c.status, _T.c.reopen_count,
              _T.c.escalation_version)


def _escalate_where(t: sa.Table) -> list:
    return [t.c.status.in_(RESPONSE_PENDING), t.c.paused_at.is_(None), t.c.escalation_level < sa.bindparam("below")]


def _resolution_where(t: sa.Table) -> list:
    return [t.c.status.in_(OPEN_STATUSES), t.c.paused_at.is_(None), t.c.resolution_breached.is_(False)]


def _update(dialect: str, where, values: dict) -> sa.Update:
    """``UPDATE wf_tickets … WHERE id IN :tids AND where … RETURNING``; on PostgreSQL the ids
    go through ``SELECT … ORDER BY id FOR UPDATE`` first, so the row locks come in id order."""
    tids = sa.bindparam("tids", expanding=True)
    if dialect == "postgresql":
        locked = _T.alias("locked")
        ids = _T.c.id.in_(sa.select(locked.c.id).where(locked.c.id.in_(tids), *where(locked))
                          .order_by(locked.c.id).with_for_update())
    else:
        ids = _T.c.id.in_(tids)
    return sa.update(_T).where(ids, *where(_T)).values(**values).returning(*_RETURNING)


@cache
def _statement(dialect: str, kind: str) -> sa.Update:
    """Built once per dialect: the worker runs these for every batch, and building a statement
    costs more Python time than the database spends on it."""
    if kind == RESPONSE_KIND:
        return _update(dialect, _escalate_where, {
            "escalation_level": sa.bindparam("new_level"), "version": _T.c.version + 1,
            "updated_at": sa.bindparam("now"),
            "response_breached": sa.case((_T.c.first_response_at.is_(None), sa.true()),
                                         else_=_T.c.response_breached)})
    return _update(dialect, _resolution_where, {
        "resolution_breached": True, "version": _T.c.version + 1, "updated_at": sa.bindparam("now")})


_E = TicketEvent.__table__
_SYSTEM_EVENT = sa.insert(_E).values(ticket_id=sa.bindparam("tid"), at=sa.bindparam("now"), actor_kind="system",
                                     action=sa.bindparam("action"), data=sa.bindparam("data"))


def _events(session: Session, now, action: str, data: list[tuple[int, dict]]) -> None:
    """One system event per (ticket id, data), in one statement (``fastpath.system_events`` on
    PostgreSQL: the rows as one JSON document)."""
    if fast_paths_apply(session):
        fastpath.system_events(session, now, action, data)
    else:
        session.execute(_SYSTEM_EVENT, [{"tid": tid, "now": now, "action": action, "data": d} for tid, d in data])


def _staff(session: Session, org_id: int, roles: tuple[str, ...], *, supervising: bool = False
           ) -> list[notify.Recipient]:
    """The organisation's (or its supervisor's) members with ``roles``, cached for the worker's
    batch transaction (the session lives one batch): one query per organisation, not per ticket."""
    cache = session.info.setdefault("wf_recipients", {})
    key = (supervising, org_id, roles)
    if key not in cache:
        find = notify.supervisors if supervising else notify.org_staff
        cache[key] = find(session, org_id, roles)
    return cache[key]


def _rounds(timers: list[Timer]) -> list[dict[int, list[int]]]:
    """The timers as rounds of ``{level: [ticket ids]}`` in claim order, each ticket at most once
    per round: a ticket whose two levels are both due escalates twice, in order, as it would
    timer after timer."""
    rounds: list[dict[int, list[int]]] = []
    seen: dict[int, int] = {}
    for timer in timers:
        tid = int(timer.subject_id)
        n = seen.get(tid, 0)
        seen[tid] = n + 1
        if n == len(rounds):
            rounds.append({})
        rounds[n].setdefault(timer.level, []).append(tid)
    return rounds


def _changed(session: Session, kind: str, timers: list[Timer], now) -> list[tuple[Escalated, int]]:
    """Lock, re-check and change the timers' tickets; (ticket, level) of those that changed,
    in claim order within each round."""
    stmt = _statement(session.get_bind().dialect.name, kind)
    changed: list[tuple[Escalated, int]] = []
    for round_ in _rounds(timers):
        for level, tids in round_.items():
            rows = {row[0]: Escalated(*row) for row in session.execute(
                stmt, {"tids": tids, "below": level, "new_level": level, "now": now})}
            changed += [(rows[tid], level) for tid in tids if tid in rows]
    return changed


@timer_handler(RESPONSE_KIND)
def response_overdue(session: Session, timer: Timer, clock: Clock) -> None:
    """The batch handler on one timer (the worker's fallback when a batch fails)."""
    responses_overdue(session, [timer], clock)


@timer_handler(RESOLUTION_KIND)
def resolution_overdue(session: Session, timer: Timer, clock: Clock) -> None:
    """The batch handler on one timer."""
    resolutions_overdue(session, [timer], clock)


def _recipients(session: Session, ticket: Escalated, step: chain.Step) -> list[notify.Recipient]:
    """The step's recipients for ``ticket``: the organisations it names, found from the ticket."""
    dispatcher = ticket.dispatch_org_id
    orgs: dict[str, chain.Finder] = {
        "owner": lambda roles: _staff(session, ticket.org_id, roles),
        "owner_supervisor": lambda roles: _staff(session, ticket.org_id, roles, supervising=True),
    }
    if dispatcher is not None and dispatcher != ticket.org_id:
        orgs["dispatcher"] = lambda roles: _staff(session, dispatcher, roles)
    return chain.recipients(step, orgs, lambda spec: spec.find(session, ticket))


def _step_notices(clock: Clock, ticket: Escalated, level: int, step: chain.Step, config: WorkflowConfig | None,
                  recipients: list[notify.Recipient]) -> list[Notice]:
    """The escalation's notice, once per channel the step names (the scenario's when none)."""
    found = notify.notice(clock, ticket, key=f"esc:{ticket.reopen_count}:{level}", template="wf.escalated",
                          recipients=recipients, config=config, urgent=step.urgent, level=level)
    if found is None:
        return []
    return [replace(found, channel=c) for c in step.channels] if step.channels else [found]


def _rearm_repeats(session: Session, timers: list[Timer], changed: list[tuple[Escalated, int]]) -> None:
    """A repeating last step that fired arms the next repeat (level + 1, one interval later)."""
    due = {(int(t.subject_id), t.level): t.due_at for t in timers}
    for ticket, level in changed:
        policy = escalation_policy(session, ticket.scenario, ticket.escalation_version)
        if not policy.repeats or (ticket.id, level) not in due:
            continue
        cal = ticket_calendar(session, session.get(Ticket, ticket.id))
        following = policy.next_after(level, due[(ticket.id, level)], add=cal.add)
        if following is not None:
            schedule_many(session, subject_type=SUBJECT, subject_id=ticket.id,
                          timers=[(RESPONSE_KIND, following[0], following[1])])


@batch_handler(RESPONSE_KIND)
def responses_overdue(session: Session, timers: list[Timer], clock: Clock) -> None:
    """Escalate the batch's tickets whose response is still pending (see the module docstring)."""
    now = clock.now()
    changed = _changed(session, RESPONSE_KIND, timers, now)
    if not changed:
        return
    steps = {(t.id, level): escalation_policy(session, t.scenario, t.escalation_version).step(level)
             for t, level in changed}
    _events(session, now, "escalate", [(t.id, _event_data(t, level, steps[(t.id, level)])) for t, level in changed])
    notices = []
    for ticket, level in changed:
        step = steps[(ticket.id, level)]
        if step is None:  # a level the policy no longer has: recorded, nobody to tell
            continue
        recipients = _recipients(session, ticket, step)
        notices += _step_notices(clock, ticket, level, step, config_for(ticket.scenario), recipients)
        log.info("ticket escalated", extra={"ticket_id": ticket.id, "escalation_level": level,
                                          "scenario": ticket.scenario})
    enqueue_many(session, notices, clock=clock)
    _rearm_repeats(session, timers, changed)
    for ticket, level in changed:  # counted once the batch commits
        count_after_commit(session, SLA_BREACHES.labels(ticket.scenario, f"response_level_{level}"))


def _event_data(ticket: Escalated, level: int, step: chain.Step | None) -> dict:
    data = {"level": level, "cycle": ticket.reopen_count}
    if step is not None and step.instruction:
        data["instruction"] = step.instruction
    return data


@batch_handler(RESOLUTION_KIND)
def resolutions_overdue(session: Session, timers: list[Timer], clock: Clock) -> None:
    """Mark the resolution target missed on the batch's open tickets and tell their managers."""
    now = clock.now()
    changed = _changed(session, RESOLUTION_KIND, timers, now)
    if not changed:
        return
    _events(session, now, "resolution_overdue", [(t.id, {"cycle": t.reopen_count}) for t, _ in changed])
    notices = []
    for ticket, _ in changed:
        config = config_for(ticket.scenario)
        managers = _roles(config, "manager_roles")
        notices.append(notify.notice(
            clock, ticket, key=f"resolution_overdue:{ticket.reopen_count}", template="wf.resolution_overdue",
            recipients=_staff(session, ticket.org_id, managers),
            config=config, urgent=True))
    enqueue_many(session, [n for n in notices if n is not None], clock=clock)
    for ticket, _ in changed:
        count_after_commit(session, SLA_BREACHES.labels(ticket.scenario, "resolution"))
