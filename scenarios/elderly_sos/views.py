"""What each reader sees of an alarm; the call centre's board of open alarms; monthly figures.

Staff see the person's masked name, age, committee and address (they act on it; the health
notes only through the audited ``POST /enrolments/<id>/health``; an unenrolled caller's
phone only through the audited ``POST /alarms/<id>/caller-phone``); the person's family see the
alarm's progress (acknowledged, a responder on the way, arrived, outcome) and nothing of staff
but roles. Times are against the limits of ``policy``.
"""
from __future__ import annotations

from datetime import datetime
from statistics import median
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.calendar import CST
from auth import pii
from auth.models import Account, Person
from auth.principal import Principal
from scenarios.elderly_sos import chain
from scenarios.elderly_sos.access import committee_name, committee_names, sees_alarm
from scenarios.elderly_sos.alarms import OPEN_STATES, number
from scenarios.elderly_sos.enrolment import age_on
from scenarios.elderly_sos.models import SosAlarm, SosAlarmEvent, SosContact, SosDevice, SosEnrolment
from scenarios.elderly_sos.policy import ACK_LIMIT, ARRIVAL_LIMIT

PUBLIC_ACTIONS = ("raised", "acknowledged", "visit_taken", "arrived", "closed", "escalated")
"""What the family sees of the trail (not each press: ``presses`` counts them)."""


def enrolment_view(session: Session, e: SosEnrolment, now: datetime) -> dict[str, Any]:
    """An enrolment as staff and the family see it: names and phones masked; whether there are
    health notes, never the notes (``enrolment.read_health``, audited)."""
    person = session.get(Person, e.person_id)
    contacts = session.scalars(sa.select(SosContact).where(SosContact.enrolment_id == e.id)
                               .order_by(SosContact.position)).all()
    devices = session.scalars(sa.select(SosDevice).where(SosDevice.enrolment_id == e.id)).all()
    return {"id": e.id, "state": e.state, "name": pii.mask_name(person.name) if person else None,
            "age": _age(person, now), "committee": committee_name(session, e.committee_org_id), "address": e.address,
            "hukou_shanghai": e.hukou_shanghai, "lives_alone": e.lives_alone, "has_health_notes": bool(e.health),
            "contacts": [{"position": c.position, "relation": c.relation, "name": pii.mask_name(c.name),
                          "phone": pii.mask_mobile(c.phone), "follows_in_app": c.account_id is not None}
                         for c in contacts],
            "devices": [{"id": d.id, "kind": d.kind} for d in devices],
            "end_reason": e.end_reason, "ended_on": e.ended_on}


def _age(person: Person | None, now: datetime) -> int | None:
    return age_on(person.birth_date, now.astimezone(CST).date()) if person and person.birth_date else None


def caller(session: Session, alarm: SosAlarm) -> Person | None:
    """The person of an unenrolled resident who pressed their own button (None otherwise)."""
    if alarm.enrolment_id is not None or alarm.device_id is not None or alarm.raised_by_account_id is None:
        return None
    account = session.get(Account, alarm.raised_by_account_id)
    return session.get(Person, account.person_id) if account is not None and account.person_id else None


def _person(session: Session, alarm: SosAlarm, now: datetime) -> dict[str, Any] | None:
    enrolment = session.get(SosEnrolment, alarm.enrolment_id) if alarm.enrolment_id else None
    if enrolment is None:
        person = caller(session, alarm)
        if person is None:
            return None
        return {"enrolment_id": None, "enrolled": False, "name": pii.mask_name(person.name), "age": _age(person, now),
                "phone": pii.mask_mobile(person.phone), "address": None, "committee": None}
    person = session.get(Person, enrolment.person_id)
    return {"enrolment_id": enrolment.id, "enrolled": True, "name": pii.mask_name(person.name) if person else None,
            "age": _age(person, now), "address": enrolment.address,
            "committee": committee_name(session, enrolment.committee_org_id)}


def alarm_view(session: Session, principal: Principal, alarm: SosAlarm, now: datetime, *,
               trail: bool = True) -> dict[str, Any]:
    """``trail=False``: without the trail (the answer to a press: a flood of presses must not
    read a trail that grows with each)."""
    staff = principal.is_staff
    events = session.scalars(sa.select(SosAlarmEvent).where(SosAlarmEvent.alarm_id == alarm.id)
                             .order_by(SosAlarmEvent.id)).all() if trail else []
    shown = [{"at": e.at, "action": e.action, "data": e.data if staff else {}}
             for e in events if staff or e.action in PUBLIC_ACTIONS]
    out: dict[str, Any] = {
        "id": alarm.id, "number": number(alarm), "kind": alarm.kind, "state": alarm.state, "presses": alarm.presses,
        "created_at": alarm.created_at, "acknowledged_at": alarm.acknowledged_at, "arrived_at": alarm.arrived_at,
        "closed_at": alarm.closed_at, "outcome": alarm.outcome, "responder_on_the_way": alarm.state == "visiting",
        "committee": committee_name(session, alarm.committee_org_id), "trail": shown,
    }
    if staff:
        out |= {"job_id": alarm.job_id, "ack_due_at": alarm.ack_due_at, "arrival_due_at": alarm.arrival_due_at,
                "chain": alarm.chain, "chain_level": alarm.chain_level, "next_step_at": chain.next_due(alarm),
                "responder_account_id": alarm.responder_account_id, "person": _person(session, alarm, now),
                "device_id": alarm.device_id, "outcome_text": alarm.outcome_text}
    return out


def board(session: Session, principal: Principal, now: datetime, limit: int = 200) -> list[dict[str, Any]]:
    """Open alarms the caller sees, oldest first, with their age and limits."""
    rows = session.scalars(sa.select(SosAlarm).where(SosAlarm.state.in_(OPEN_STATES))
                           .order_by(SosAlarm.created_at, SosAlarm.id).limit(limit)).all()
    rows = [a for a in rows if sees_alarm(session, principal, a)]
    names = committee_names(session, (a.committee_org_id for a in rows))
    out = []
    for a in rows:
        due = a.ack_due_at if a.state == "open" else a.arrival_due_at
        out.append({"id": a.id, "number": number(a), "kind": a.kind, "state": a.state,
                    "age_seconds": int((now - a.created_at).total_seconds()), "due_at": due,
                    "overdue": due is not None and now > due, "chain": a.chain, "chain_level": a.chain_level,
                    "next_step_at": chain.next_due(a), "committee": names.get(a.committee_org_id)})
    return out


def followed(session: Session, principal: Principal, now: datetime, limit: int = 20) -> list[dict[str, Any]]:
    """A resident's alarms: those of the people they are a contact of (or are), and those they raised."""
    mine = sa.select(SosEnrolment.id).where(SosEnrolment.person_id == principal.person_id)
    contact_of = sa.select(SosContact.enrolment_id).where(SosContact.account_id == principal.account_id)
    rows = session.scalars(sa.select(SosAlarm).where(sa.or_(
        SosAlarm.enrolment_id.in_(mine), SosAlarm.enrolment_id.in_(contact_of),
        SosAlarm.raised_by_account_id == principal.account_id))
        .order_by(SosAlarm.created_at.desc(), SosAlarm.id.desc()).limit(limit)).all()
    names = committee_names(session, (a.committee_org_id for a in rows))
    return [{"id": a.id, "number": number(a), "kind": a.kind, "state": a.state,
             "age_seconds": int((now - a.created_at).total_seconds()), "due_at": None, "overdue": False,
             "chain": None, "chain_level": 0, "next_step_at": None,
             "committee": names.get(a.committee_org_id)} for a in rows]


def _summary(seconds: list[float], limit: float) -> dict[str, Any]:
    return {"count": len(seconds), "median_seconds": round(median(seconds), 1) if seconds else None,
            "max_seconds": round(max(seconds), 1) if seconds else None, "limit_seconds": int(limit),
            "within_limit": sum(1 for s in seconds if s <= limit)}


def figures(session: Session, start: datetime, end: datetime) -> dict[str, Any]:
    """Alarms raised in [start, end): acknowledgement and arrival times against the limits."""
    rows = session.execute(sa.select(SosAlarm.created_at, SosAlarm.acknowledged_at, SosAlarm.arrived_at,
                                     SosAlarm.outcome, SosAlarm.kind)
                           .where(SosAlarm.created_at >= start, SosAlarm.created_at < end)).all()
    ack = [(r.acknowledged_at - r.created_at).total_seconds() for r in rows if r.acknowledged_at]
    arrival = [(r.arrived_at - r.acknowledged_at).total_seconds() for r in rows if r.arrived_at and r.acknowledged_at]
    outcomes: dict[str, int] = {}
    for r in rows:
        if r.outcome:
            outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
    return {"alarms": len(rows), "inactivity": sum(1 for r in rows if r.kind == "inactivity"),
            "acknowledgement": _summary(ack, ACK_LIMIT.total_seconds()),
            "arrival": _summary(arrival, ARRIVAL_LIMIT.total_seconds()), "outcomes": outcomes}
