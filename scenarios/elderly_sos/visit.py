"""Who is offered the visit once the call centre has acknowledged: the nearest available
community responders of the person's committee (its members, grid workers and volunteers).

Responders go on duty and report their positions through the dispatch engine's agent
endpoints, mounted at ``/api/v1/elderly-sos/responders/me…`` for ``VISIT_POOL`` (a second
pool of agents, with positions; the call centre's operators are the scenario's own pool,
without). The search is the engine's (``nearby.nearest``: Redis or the database; positions
older than ``position_max_age`` are ignored), restricted to the person's committee, from the
enrolled person's home point.

Rounds: at the acknowledgement the nearest ``batch_size`` within the smallest radius that
finds anyone (``radii_m``); every ``VISIT_ROUND`` while nobody has taken it, the next batch
(never anyone offered before), widening the radius when the nearer ones are used up. When
nobody with a fresh position is near, the whole committee is offered it at once (as before
positions existed), and the rounds end: the arrival chain takes over from there. A responder
who took a visit is busy in the pool (``job_id``: the alarm's call) until the alarm closes.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import timers
from app.clock import Clock
from app.errors import ApiError
from app.notify.service import Recipient
from app.timers import Timer, timer_handler
from scenarios.elderly_sos.models import SosAlarm, SosAlarmEvent, SosEnrolment
from scenarios.elderly_sos.policy import RESPONDER_ROLES
from scenarios.elderly_sos.schemas import SosEmptySchema
from scenarios.engines.dispatch.agents import free_agent
from scenarios.engines.dispatch.config import DispatchConfig, Stage
from scenarios.engines.dispatch.models import SUBJECT, DispatchAgent, DispatchJob
from scenarios.engines.dispatch.nearby import Candidate, index_agent, nearest
from scenarios.engines.workflow.notifications import org_staff

VISIT_KIND = "elderly_sos.visit"
VISIT_ROUND = timedelta(minutes=3)
"""How long a batch of responders has to take the visit before the next batch is offered it."""


def _no_origin(session, *, clock, principal, data):
    """Visits are not requested: they follow an acknowledged alarm."""
    raise ApiError("sos_use_alarms")


VISIT_POOL = DispatchConfig(
    slug="elderly-sos-visit",
    title_zh="应急上门",
    job_noun="visits",
    agent_org_type="neighbourhood_committee",
    agent_org_types=("village_committee",),
    agent_roles=RESPONDER_ROLES,
    origin=_no_origin,
    request_schema=SosEmptySchema,
    stages=(Stage("arrive", "accepted", "arrived", "At the door."),),
    positions=True,
    batch_size=3,
    radii_m=(1000, 3000, 6000),
    position_max_age=timedelta(minutes=10),
)
"""The responders' pool: only its agent endpoints and its search are used (no jobs of its own)."""


def _home(session: Session, alarm: SosAlarm) -> tuple[float, float] | None:
    enrolment = session.get(SosEnrolment, alarm.enrolment_id) if alarm.enrolment_id else None
    if enrolment is None or not enrolment.home_point:
        return None
    lat, lon = (float(x) for x in enrolment.home_point.split(","))
    return lat, lon


def nearest_batch(session: Session, alarm: SosAlarm, now: datetime, exclude: set[int]
                  ) -> tuple[list[Candidate], int | None]:
    """The next batch of the committee's available responders nearest the person's home, never
    one in ``exclude``, at the smallest radius that finds anyone (and that radius)."""
    home = _home(session, alarm)
    if home is None or alarm.committee_org_id is None:
        return [], None
    want = VISIT_POOL.batch_size
    for radius in VISIT_POOL.radii_m:
        found = nearest(session, VISIT_POOL, lat=home[0], lon=home[1], radius_m=radius, limit=want + len(exclude),
                        now=now, org_id=alarm.committee_org_id)
        found = [c for c in found if c.agent_id not in exclude][:want]
        if found:
            return found, radius
    return [], None


def _offered(session: Session, alarm: SosAlarm) -> tuple[set[int], bool]:
    """Agents offered the visit so far, and whether the whole committee has been."""
    rows = session.scalars(sa.select(SosAlarmEvent.data).where(SosAlarmEvent.alarm_id == alarm.id,
                                                               SosAlarmEvent.action == "visit_offered")).all()
    return {a for d in rows for a in d.get("agents", [])}, any(d.get("fallback") for d in rows)


def offer(session: Session, clock: Clock, alarm: SosAlarm, round_no: int) -> None:
    """One round of the visit's offers (module docstring); the alarm is locked."""
    from scenarios.elderly_sos.alarms import record, tell

    now = clock.now()
    exclude, whole = _offered(session, alarm)
    if whole:
        return
    found, radius = nearest_batch(session, alarm, now, exclude)
    data: dict[str, Any] = {"round": round_no}
    if found:
        accounts = dict(session.execute(sa.select(DispatchAgent.id, DispatchAgent.account_id)
                                        .where(DispatchAgent.id.in_([c.agent_id for c in found]))).all())
        recipients = [Recipient.account(accounts[c.agent_id]) for c in found]
        data.update(agents=[c.agent_id for c in found], distances_m=[round(c.distance_m or 0) for c in found],
                    radius_m=radius)
    elif alarm.committee_org_id is not None:
        recipients = org_staff(session, alarm.committee_org_id, RESPONDER_ROLES)
        data["fallback"] = "committee"
    else:
        recipients = []
    tell(session, clock, alarm, key=f"visit:{round_no}", template="sos_visit", recipients=recipients)
    record(session, alarm, "visit_offered", now, responders=len(recipients), **data)
    if found:
        timers.schedule(session, subject_type=SUBJECT, subject_id=alarm.job_id, kind=VISIT_KIND,
                        level=round_no + 1, due_at=now + VISIT_ROUND)


def _agent(session: Session, account_id: int | None) -> DispatchAgent | None:
    if account_id is None:
        return None
    return session.scalar(sa.select(DispatchAgent).where(DispatchAgent.scenario == VISIT_POOL.slug,
                                                         DispatchAgent.account_id == account_id).with_for_update())


def busy(session: Session, alarm: SosAlarm, now: datetime) -> None:
    """The responder took the visit: not offered another until this alarm closes (when they are
    on duty in the pool at all; the whole committee's fallback reaches those who are not)."""
    agent = _agent(session, alarm.responder_account_id)
    if agent is not None and agent.on_duty and agent.job_id is None:
        agent.job_id, agent.available_since, agent.updated_at = alarm.job_id, None, now
        session.flush()
        index_agent(VISIT_POOL, agent)


def release(session: Session, alarm: SosAlarm, now: datetime) -> None:
    """The alarm closed: its responder is available again."""
    agent = _agent(session, alarm.responder_account_id)
    if agent is not None and agent.job_id == alarm.job_id:
        free_agent(session, VISIT_POOL, agent.id, now)


@timer_handler(VISIT_KIND)
def next_round(session: Session, timer: Timer, clock: Clock) -> None:
    """Nobody has taken the visit: the next batch (locks: the job, then the alarm)."""
    job = session.scalar(sa.select(DispatchJob).where(DispatchJob.id == int(timer.subject_id)).with_for_update())
    alarm = session.scalar(sa.select(SosAlarm).where(SosAlarm.job_id == int(timer.subject_id)).with_for_update()
                           .execution_options(populate_existing=True)) if job is not None else None
    if alarm is None or alarm.state != "acknowledged" or alarm.responder_account_id is not None:
        return
    offer(session, clock, alarm, timer.level)
