"""Alarms: a press (or a silent device) raises one; the call centre acknowledges it through the
dispatch engine (``accept`` on its job: one operator wins, the others 409); a community
responder takes the visit and confirms arrival; it closes only with an outcome.

Locks, in the order every path takes them: the job's pending timers, the job
(``dispatch.access.lock_job``; the worker holds a chain timer before its handler runs), then
the alarm. A press locks the enrolment (or the device) first, so two presses at once merge.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import chains
from app.clock import Clock
from app.errors import ApiError
from app.notify.service import Recipient, enqueue
from auth.models import Account
from auth.organisations import Organisation
from auth.principal import Principal
from scenarios.elderly_sos import chain, contacts, visit
from scenarios.elderly_sos.access import is_call_centre_staff
from scenarios.elderly_sos.models import SosAlarm, SosAlarmEvent, SosContact, SosDevice, SosEnrolment
from scenarios.elderly_sos.places import call_centre, home_point
from scenarios.elderly_sos.policy import ACK_LIMIT, ARRIVAL_LIMIT, MERGE_WINDOW, RESPONDER_ROLES, TERMS
from scenarios.engines.dispatch import service as dispatch
from scenarios.engines.dispatch.access import lock_job
from scenarios.engines.dispatch.config import Origin
from scenarios.engines.dispatch.models import DispatchAgent, DispatchJob

TITLE = "高龄老人应急呼叫"
OPEN_STATES = ("open", "acknowledged", "visiting", "on_scene")
NOTES = {
    "raised": "已收到呼叫，正在联系", "acknowledged": "呼叫中心已应答", "visiting": "社区人员正在赶往",
    "arrived": "社区人员已到达", "closed": "呼叫已处理完毕", "escalated": "呼叫未获及时响应，请协助",
}


def number(alarm: SosAlarm) -> str:
    return f"SOS-{alarm.id:06d}"


def record(session: Session, alarm: SosAlarm, action: str, now: datetime, actor: int | None = None,
           **data: Any) -> None:
    session.add(SosAlarmEvent(alarm_id=alarm.id, at=now, action=action, actor_account_id=actor, data=data))


def payload(session: Session, alarm: SosAlarm, clock: Clock, note: str, **extra: Any) -> dict[str, Any]:
    """No names, phones or addresses: the alarm's number, the committee's name, a fixed phrase."""
    committee = session.get(Organisation, alarm.committee_org_id) if alarm.committee_org_id else None
    area = committee.name if committee is not None else "未登记"
    return {"alarm_id": alarm.id, "ticket_no": number(alarm), "title": TITLE, "area": area, "pickup": area,
            "note": note, "at": clock.now().isoformat(), **extra}


def tell(session: Session, clock: Clock, alarm: SosAlarm, *, key: str, template: str,
         recipients: list[Recipient], channel: str = "auto", urgent: bool = True, **extra: Any) -> int:
    if not recipients:
        return 0
    note = extra.pop("note", NOTES.get(key.split(":")[0], ""))
    return enqueue(session, event_key=f"sos:{alarm.id}:{key}", template=template, recipients=recipients, clock=clock,
                   payload=payload(session, alarm, clock, note, **extra), channel=channel, urgent=urgent)


def tell_followers(session: Session, clock: Clock, alarm: SosAlarm, key: str, note: str | None = None) -> None:
    """Contacts with accounts (and whoever raised it) follow the alarm: WeChat, SMS when no grant."""
    followers = [Recipient.account(a) for a in contacts.followers(session, alarm)]
    tell(session, clock, alarm, key=key, template="sos_update", recipients=followers, channel="auto",
         **({"note": note} if note else {}))


# ---------------------------------------------------------------- raising


def _whose(session: Session, principal: Principal, enrolment_id: int | None
           ) -> tuple[SosEnrolment | None, SosDevice | None]:
    """The enrolment (locked) and device an alarm is for, from the caller: (None, None) for a
    resident pressing their own button who is not enrolled (their account locked: two presses
    at once merge)."""
    if principal.is_device:
        device = session.scalar(sa.select(SosDevice).where(SosDevice.device_id == principal.device_id)
                                .with_for_update())
        if device is None:
            raise ApiError("sos_device_unknown")
        enrolment = session.get(SosEnrolment, device.enrolment_id) if device.enrolment_id else None
        return (enrolment if enrolment is not None and enrolment.state == "active" else None), device
    if not principal.is_resident:
        raise ApiError("forbidden")
    mine = sa.select(SosEnrolment.id).where(SosEnrolment.person_id == principal.person_id,
                                            SosEnrolment.state == "active")
    relative = (sa.select(SosContact.enrolment_id).join(SosEnrolment, SosEnrolment.id == SosContact.enrolment_id)
                .where(SosContact.account_id == principal.account_id, SosContact.may_alarm.is_(True),
                       SosEnrolment.state == "active"))
    ids = sorted(set(session.scalars(mine)) | set(session.scalars(relative)))
    if not ids and enrolment_id is None:  # their own button, not enrolled: still a human answers
        session.scalar(sa.select(Account.id).where(Account.id == principal.account_id).with_for_update())
        return None, None
    if enrolment_id is not None:
        ids = [i for i in ids if i == enrolment_id]
    if not ids:
        raise ApiError("sos_not_enrolled", errors={"enrolment_id": ["您没有可呼叫的登记老人。"]})
    if len(ids) > 1:
        raise ApiError("validation_error", errors={"enrolment_id": ["请选择为哪位老人呼叫。"]})
    enrolment = session.scalar(sa.select(SosEnrolment).where(SosEnrolment.id == ids[0]).with_for_update())
    return enrolment, None


def _recent(session: Session, enrolment: SosEnrolment | None, device: SosDevice | None,
            now: datetime, account_id: int | None) -> SosAlarm | None:
    """The open alarm of the same person (or, unenrolled, the same device or caller's account)
    pressed within the window."""
    stmt = sa.select(SosAlarm).where(SosAlarm.state.in_(OPEN_STATES), SosAlarm.last_press_at >= now - MERGE_WINDOW)
    if enrolment is not None:
        stmt = stmt.where(SosAlarm.enrolment_id == enrolment.id)
    elif device is not None:
        stmt = stmt.where(SosAlarm.device_id == device.id)
    else:
        stmt = stmt.where(SosAlarm.enrolment_id.is_(None), SosAlarm.device_id.is_(None),
                          SosAlarm.raised_by_account_id == account_id)
    return session.scalar(stmt.order_by(SosAlarm.id.desc()).limit(1).with_for_update())


def raise_alarm(session: Session, *, clock: Clock, principal: Principal, config: Any, kind: str | None = None,
                enrolment_id: int | None = None) -> tuple[SosAlarm, bool]:
    """A press: merged into the alarm pressed within ``MERGE_WINDOW`` (True), or a new alarm
    offered at once to every on-duty operator (False)."""
    enrolment, device = _whose(session, principal, enrolment_id)
    now = clock.now()
    kind = kind or ("device" if device is not None else "button")
    recent = _recent(session, enrolment, device, now, principal.account_id)
    if recent is not None:
        recent.presses += 1
        recent.last_press_at, recent.updated_at = now, now
        record(session, recent, "press", now, principal.account_id, via=kind, device=device.id if device else None)
        return recent, True
    centre = call_centre(session, device)
    committee_id = enrolment.committee_org_id if enrolment is not None else None
    return open_alarm(session, clock=clock, config=config, kind=kind, enrolment=enrolment, device=device,
                      raised_by=principal.account_id, centre=centre, committee_id=committee_id), False


def open_alarm(session: Session, *, clock: Clock, config: Any, kind: str, enrolment: SosEnrolment | None,
               device: SosDevice | None, raised_by: int | None, centre: Organisation,
               committee_id: int | None) -> SosAlarm:
    """A new alarm and its job: every on-duty operator is offered it now; the acknowledgement
    chain is armed at the limit, or now when nobody was on duty to offer it to."""
    now = clock.now()
    committee = session.get(Organisation, committee_id) if committee_id else None
    lat, lon = home_point(enrolment)
    origin = Origin(lat=lat, lon=lon, area=committee.code if committee else "unknown",
                    label=committee.name if committee else "未登记")
    job = dispatch.open_job(session, clock=clock, config=config, origin=origin, data={"alarm_kind": kind},
                            requester_account_id=None, requester_person_id=None)
    alarm = SosAlarm(kind=kind, enrolment_id=enrolment.id if enrolment else None,
                     device_id=device.id if device else None, raised_by_account_id=raised_by,
                     call_centre_org_id=centre.id, committee_org_id=committee_id,
                     job_id=job.id, state="open", presses=1, last_press_at=now, ack_due_at=now + ACK_LIMIT,
                     chain_level=0, chain_version=chains.current_version(session, TERMS.key), version=1, created_at=now,
                     updated_at=now)
    session.add(alarm)
    session.flush()
    record(session, alarm, "raised", now, raised_by, kind=kind, device=device.id if device else None,
           enrolled=enrolment is not None, offered=job.offers_made)
    if job.offers_made:
        chain.arm(session, alarm, "ack", alarm.ack_due_at)
    else:
        record(session, alarm, "no_operator_on_duty", now)
        chain.arm(session, alarm, "ack", now)
    tell_followers(session, clock, alarm, "raised")
    return alarm


# ---------------------------------------------------------------- the engine's changes


def on_job_change(session: Session, *, clock: Clock, job: DispatchJob, action: str) -> None:
    """``DispatchConfig.on_change``: the job is locked; the alarm follows it."""
    alarm = session.scalar(sa.select(SosAlarm).where(SosAlarm.job_id == job.id).with_for_update())
    if alarm is None:
        return
    now = clock.now()
    if action == "accept" and alarm.state == "open":
        agent = session.get(DispatchAgent, job.agent_id)
        acknowledge(session, clock, alarm, agent.account_id if agent else None, now)
    elif action in ("cancel", "unserved") and alarm.state == "open":  # nobody answered: alert a human
        record(session, alarm, f"call_{action}", now)
        if alarm.chain != "ack" or alarm.chain_started_at is None or alarm.chain_started_at > now:
            chain.arm(session, alarm, "ack", now)


def acknowledge(session: Session, clock: Clock, alarm: SosAlarm, operator: int | None, now: datetime) -> None:
    """The acknowledgement chain stops; the nearest responders of the committee are offered the
    visit (``visit.py``); the arrival limit starts."""
    late = now > alarm.ack_due_at
    alarm.state, alarm.acknowledged_at, alarm.acknowledged_by_account_id = "acknowledged", now, operator
    alarm.arrival_due_at, alarm.updated_at, alarm.version = now + ARRIVAL_LIMIT, now, alarm.version + 1
    chain.cancel(session, alarm)
    chain.arm(session, alarm, "arrival", alarm.arrival_due_at)
    record(session, alarm, "acknowledged", now, operator, late=late,
           seconds=int((now - alarm.created_at).total_seconds()))
    visit.offer(session, clock, alarm, 1)
    tell_followers(session, clock, alarm, "acknowledged")


def _locked(session: Session, alarm_id: int) -> tuple[SosAlarm, DispatchJob]:
    alarm = session.get(SosAlarm, alarm_id)
    if alarm is None:
        raise ApiError("not_found")
    job = lock_job(session, alarm.job_id, alarm_scenario(session, alarm))
    alarm = session.scalar(sa.select(SosAlarm).where(SosAlarm.id == alarm_id).with_for_update()
                           .execution_options(populate_existing=True))
    return alarm, job  # type: ignore[return-value]


def alarm_scenario(session: Session, alarm: SosAlarm) -> str:
    return session.scalar(sa.select(DispatchJob.scenario).where(DispatchJob.id == alarm.job_id)) or ""


def is_responder(session: Session, principal: Principal, alarm: SosAlarm) -> bool:
    return (principal.is_staff and alarm.committee_org_id is not None and principal.org_id == alarm.committee_org_id
            and principal.role in RESPONDER_ROLES)


def take_visit(session: Session, *, clock: Clock, principal: Principal, alarm_id: int, **_: Any) -> SosAlarm:
    """A responder of the person's committee goes: one wins (409 ``already_taken``)."""
    alarm, _job = _locked(session, alarm_id)
    if not is_responder(session, principal, alarm):
        raise ApiError("forbidden")
    if alarm.responder_account_id == principal.account_id:
        return alarm
    if alarm.responder_account_id is not None:
        raise ApiError("already_taken")
    if alarm.state != "acknowledged":
        raise ApiError("invalid_transition", detail={"current_status": alarm.state})
    now = clock.now()
    alarm.state, alarm.responder_account_id, alarm.visit_accepted_at = "visiting", principal.account_id, now
    alarm.updated_at, alarm.version = now, alarm.version + 1
    record(session, alarm, "visit_taken", now, principal.account_id)
    visit.busy(session, alarm, now)
    tell_followers(session, clock, alarm, "visiting")
    return alarm


def arrived(session: Session, *, clock: Clock, principal: Principal, alarm_id: int, **_: Any) -> SosAlarm:
    """The responder is at the door: the arrival chain stops."""
    alarm, _job = _locked(session, alarm_id)
    if alarm.responder_account_id != principal.account_id:
        raise ApiError("forbidden")
    if alarm.state != "visiting":
        raise ApiError("invalid_transition", detail={"current_status": alarm.state})
    now = clock.now()
    alarm.state, alarm.arrived_at, alarm.updated_at, alarm.version = "on_scene", now, now, alarm.version + 1
    chain.cancel(session, alarm)
    record(session, alarm, "arrived", now, principal.account_id, late=alarm.arrival_due_at is not None
           and now > alarm.arrival_due_at)
    tell_followers(session, clock, alarm, "arrived")
    return alarm


def close(session: Session, *, clock: Clock, principal: Principal, alarm_id: int, outcome: str,
          text: str | None = None, config: Any = None, **_: Any) -> SosAlarm:
    """Close with an outcome (``other`` needs a text): call-centre staff or the responder, once
    the call centre has acknowledged. The operator's call ends with it."""
    alarm, job = _locked(session, alarm_id)
    if not (is_call_centre_staff(principal, alarm) or alarm.responder_account_id == principal.account_id):
        raise ApiError("forbidden")
    if alarm.state == "open" or alarm.state == "closed":
        raise ApiError("invalid_transition", detail={"current_status": alarm.state})
    text = (text or "").strip() or None
    if outcome == "other" and not text:
        raise ApiError("validation_error", errors={"text": ["结果为“其他”时请说明。"]})
    now = clock.now()
    alarm.state, alarm.outcome, alarm.outcome_text = "closed", outcome, text
    alarm.closed_at, alarm.closed_by_account_id, alarm.updated_at = now, principal.account_id, now
    alarm.version += 1
    chain.cancel(session, alarm)
    record(session, alarm, "closed", now, principal.account_id, outcome=outcome)
    visit.release(session, alarm, now)
    if config is not None and job.status in config.active_statuses:
        dispatch.finish(session, clock=clock, config=config, job=job, stage=config.stages[-1],
                        actor=principal.account_id)
    tell_followers(session, clock, alarm, "closed")
    return alarm
