"""The escalation chain of an alarm, on the platform's timers: the version of it current when
the alarm was raised (``alarm.chain_version``: 0 is ``policy.CHAIN``, a later one a district
administrator's, ``app.chains``), for the alarm's whole life.

``arm`` sets the alarm's running chain (``ack`` or ``arrival``), its start and level 0, and
arms one timer per listed step (kind ``elderly_sos.<chain>``, level = the step's level; the
subject is the alarm's dispatch job, so an acknowledgement's ``lock_job`` locks them before
the job, in the worker's order). ``fire`` runs in the worker's transaction with the timer
claimed: it locks the job and the alarm, and changes the alarm's level by a compare-and-set
(``UPDATE … WHERE chain = :chain AND chain_level < :level AND state IN (…)``): a worker killed
mid-step rolls back and the next one does that step, once; an acknowledgement committed first
makes it do nothing. Every attempt goes in the alarm's trail with who was told on which
channels (no phones). A repeating last step arms its next level when it fires.
"""
from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, object_session

from app import chains, escalation, timers
from app.clock import Clock
from app.notify.service import Recipient
from app.timers import Timer, timer_handler
from auth.organisations import Organisation
from scenarios.elderly_sos.models import SosAlarm
from scenarios.elderly_sos.policy import RESPONDER_ROLES, TERMS
from scenarios.engines.dispatch.models import SUBJECT, DispatchJob
from scenarios.engines.workflow.notifications import org_staff

log = logging.getLogger("scenarios.elderly_sos")

KINDS = {"ack": "elderly_sos.ack", "arrival": "elderly_sos.arrival"}
WAITING_FOR = {"ack": ("open",), "arrival": ("acknowledged", "visiting")}
"""The alarm states in which each chain still waits for someone to act."""


def policy_of(session: Session, alarm: SosAlarm) -> escalation.Policy:
    """The chain the alarm escalates by (the version it was raised under)."""
    return chains.policy(session, TERMS, alarm.chain_version)


def arm(session: Session, alarm: SosAlarm, which: str, start: datetime) -> None:
    """Start ``which`` chain at ``start`` (its listed steps armed; any other chain cancelled).
    An alarm that never had a chain has no chain timers: nothing to cancel (a new alarm's press
    spares two statements)."""
    if alarm.chain is not None:
        cancel(session, alarm)
    alarm.chain, alarm.chain_started_at, alarm.chain_level = which, start, 0
    timers.schedule_many(session, subject_type=SUBJECT, subject_id=alarm.job_id,
                         timers=[(KINDS[which], level, due) for level, due in policy_of(session, alarm).dues(start)])


def cancel(session: Session, alarm: SosAlarm) -> None:
    for kind in KINDS.values():
        timers.cancel(session, subject_type=SUBJECT, subject_id=alarm.job_id, kind=kind)


def next_due(alarm: SosAlarm) -> datetime | None:
    """When the running chain's next step is due (None: no chain running)."""
    if alarm.chain is None or alarm.chain_started_at is None or alarm.state not in WAITING_FOR[alarm.chain]:
        return None
    return policy_of(object_session(alarm), alarm).due(alarm.chain_level + 1, alarm.chain_started_at)


def _advance(session: Session, alarm_id: int, which: str, level: int, now: datetime) -> bool:
    """The compare-and-set: True when this call moved the alarm to ``level``."""
    done = session.execute(
        sa.update(SosAlarm).where(SosAlarm.id == alarm_id, SosAlarm.chain == which, SosAlarm.chain_level < level,
                                  SosAlarm.state.in_(WAITING_FOR[which]))
        .values(chain_level=level, version=SosAlarm.version + 1, updated_at=now),
        execution_options={"synchronize_session": False})
    return done.rowcount == 1


def _orgs(session: Session, alarm: SosAlarm) -> dict[str, escalation.Finder]:
    centre = session.get(Organisation, alarm.call_centre_org_id)
    orgs: dict[str, escalation.Finder] = {"call_centre": lambda roles: org_staff(session, centre.id, roles)}
    if alarm.committee_org_id is not None:
        orgs["committee"] = lambda roles: org_staff(session, alarm.committee_org_id, roles)
    if centre is not None and centre.supervisor_id is not None:
        orgs["supervisor"] = lambda roles: org_staff(session, centre.supervisor_id, roles)
    return orgs


def _channels(step: escalation.Step, recipient: Recipient) -> tuple[str, ...]:
    """The step's channels (``auto`` when it names none); a contact without an account: SMS only."""
    if recipient.kind not in ("account", "org"):
        return ("sms",)
    return step.channels or ("auto",)


def fire(session: Session, timer: Timer, clock: Clock) -> None:
    """One step of the chain (module docstring)."""
    from scenarios.elderly_sos.alarms import record, tell, tell_followers

    which = next(k for k, v in KINDS.items() if v == timer.kind)
    job = session.scalar(sa.select(DispatchJob).where(DispatchJob.id == int(timer.subject_id)).with_for_update())
    alarm = session.scalar(sa.select(SosAlarm).where(SosAlarm.job_id == int(timer.subject_id)).with_for_update()
                           .execution_options(populate_existing=True)) if job is not None else None
    now = clock.now()
    if alarm is None or not _advance(session, alarm.id, which, timer.level, now):
        return
    session.refresh(alarm)
    policy = policy_of(session, alarm)
    step = policy.step(timer.level)
    if step is None:
        return
    found = escalation.recipients(step, _orgs(session, alarm), lambda spec: spec.find(session, alarm))
    fallback = None
    if not found and any(spec.name == "contacts" for spec in step.recipients if isinstance(spec, escalation.Supplied)):
        # nobody to call: the committee is the first contact
        fallback = "committee"
        found = _orgs(session, alarm).get("committee", lambda roles: [])(RESPONDER_ROLES)
    if not found:  # where in doubt, alert a human: the call centre's managers
        fallback = "call_centre"
        found = org_staff(session, alarm.call_centre_org_id, ("manager", "operator"))
    told = []
    for channel in sorted({c for r in found for c in _channels(step, r)}):
        batch = [r for r in found if channel in _channels(step, r)]
        tell(session, clock, alarm, key=f"esc:{which}:{timer.level}", template="sos_escalated", recipients=batch,
             channel=channel, note=f"第{timer.level}级：{step.name}", instruction=step.instruction or "")
        told.append({"channel": channel, "recipients": [f"{r.kind}:{r.id}" for r in batch]})
    record(session, alarm, "escalated", now, None, chain=which, version=alarm.chain_version, level=timer.level,
           step=step.name,
           instruction=step.instruction, told=told, fallback=fallback)
    tell_followers(session, clock, alarm, f"esc:{which}:{timer.level}:follow", note="呼叫未获及时响应，已通知下一级")
    following = policy.next_after(timer.level, timer.due_at)
    if following is not None:
        timers.schedule(session, subject_type=SUBJECT, subject_id=alarm.job_id, kind=timer.kind,
                        level=following[0], due_at=following[1])
    log.info("sos chain step", extra={"alarm_id": alarm.id, "chain": which, "level": timer.level})


for _kind in KINDS.values():
    timer_handler(_kind)(fire)
