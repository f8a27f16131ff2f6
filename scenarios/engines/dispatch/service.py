"""The job's service functions: request, accept, decline, the scenario's stages, cancel.

Each takes the session, the clock, the acting principal and the scenario's config, resolves
its own arguments, and leaves an event row per change. Accepting is a compare-and-set in the
database: ``UPDATE dispatch_jobs SET status = 'accepted', agent_id = :me WHERE id = :job AND
status IN ('requested', 'offered') AND agent_id IS NULL`` changes one row for one agent; the
others get 409 ``already_taken`` (``tests/engines/dispatch/test_race.py`` races real clients
through gunicorn on PostgreSQL).
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import timers
from app.clock import Clock
from app.errors import ApiError
from auth.principal import Principal
from scenarios.engines.dispatch.access import AGENT, REQUESTER, lock_job, relation
from scenarios.engines.dispatch.agents import free_agent, require_agent
from scenarios.engines.dispatch.config import DispatchConfig, Origin, Stage
from scenarios.engines.dispatch.models import (
    OFFER_TIMEOUT_KIND,
    SUBJECT,
    DispatchAgent,
    DispatchJob,
    DispatchOffer,
    origin_point,
)
from scenarios.engines.dispatch.nearby import index_agent, release_offered
from scenarios.engines.dispatch.offers import changed, expire_pending, notify, record, run_round
from scenarios.engines.dispatch.states import ACCEPTED, CANCELLED, WAITING, final_statuses


def _invalid(job: DispatchJob) -> ApiError:
    return ApiError("invalid_transition", detail={"current_status": job.status})


def _agent_extra(session: Session, config: DispatchConfig, agent: DispatchAgent | None) -> dict[str, Any]:
    """What the scenario shows of an agent (a plate), for notices to the requester."""
    return config.agent_view(session, agent) if config.agent_view and agent is not None else {}


def open_statuses(config: DispatchConfig) -> tuple[str, ...]:
    return (*WAITING, *config.active_statuses)


def request_job(session: Session, *, clock: Clock, principal: Principal, config: DispatchConfig,
                data: dict[str, Any]) -> DispatchJob:
    """A new job from the scenario's ``origin``; its first round of offers runs at once. One
    open job per requester and scenario (409 ``job_active``)."""
    origin = config.origin(session, clock=clock, principal=principal, data=data)
    active = session.scalar(sa.select(DispatchJob.id).where(
        DispatchJob.scenario == config.slug, DispatchJob.requester_account_id == principal.account_id,
        DispatchJob.status.in_(open_statuses(config))).limit(1))
    if active is not None:
        raise ApiError("job_active", detail={"job_id": active})
    return open_job(session, clock=clock, config=config, origin=origin, data=data,
                    requester_account_id=principal.account_id, requester_person_id=principal.person_id)


def open_job(session: Session, *, clock: Clock, config: DispatchConfig, origin: Origin, data: dict[str, Any],
             requester_account_id: int | None, requester_person_id: int | None) -> DispatchJob:
    """Insert a job and run its first round of offers. A scenario opening a job from its own
    route (an SOS alarm) calls this directly; ``requester_account_id`` may be None (nobody's
    account: a device), and then no requester is told anything."""
    now = clock.now()
    private = {k: data[k] for k in config.private_fields if data.get(k) is not None}
    details = {k: v for k, v in data.items() if k not in config.private_fields and v is not None}
    job = DispatchJob(scenario=config.slug, status="requested", requester_account_id=requester_account_id,
                      requester_person_id=requester_person_id, area=origin.area, origin_label=origin.label,
                      origin_point=origin_point(origin.lat, origin.lon), details=details,
                      private=json.dumps(private, ensure_ascii=False) if private else None,
                      round=0, radius_index=0, offers_made=0, version=1, created_at=now, updated_at=now)
    try:
        with session.begin_nested():  # two taps at once: the unique index decides (models.py)
            session.add(job)
            session.flush()
    except IntegrityError:
        raise ApiError("job_active") from None
    record(session, job, "request", source=None, now=now, actor=requester_account_id)
    run_round(session, clock, config, job)
    return job


def _my_offer(session: Session, job: DispatchJob, agent: DispatchAgent) -> DispatchOffer:
    offer = session.scalar(sa.select(DispatchOffer).where(DispatchOffer.job_id == job.id,
                                                          DispatchOffer.agent_id == agent.id).with_for_update())
    if offer is None:  # visibility lets only offerees and the job's people this far
        raise ApiError("forbidden")
    return offer


def accept(session: Session, *, clock: Clock, principal: Principal, config: DispatchConfig,
           job_id: int) -> DispatchJob:
    """The offered agent takes the job: one wins (module docstring)."""
    job = lock_job(session, job_id, config.slug)
    agent = require_agent(session, config, principal)
    offer = _my_offer(session, job, agent)
    if job.agent_id == agent.id and offer.state == "accepted":
        return job  # a retry of the winner's own accept
    if job.status not in WAITING and job.agent_id is None:  # cancelled or unserved before anyone took it
        raise _invalid(job)
    if job.agent_id is not None or offer.state == "withdrawn":
        raise ApiError("already_taken")
    now = clock.now()
    if offer.state == "expired" or (offer.state == "pending" and offer.expires_at <= now):
        raise ApiError("offer_expired")
    if offer.state != "pending":
        raise ApiError("offer_not_pending")
    if not agent.on_duty:
        raise ApiError("agent_off_duty")
    if agent.job_id is not None:
        raise ApiError("agent_busy")
    source = job.status
    won = session.execute(
        sa.update(DispatchJob)
        .where(DispatchJob.id == job.id, DispatchJob.status.in_(WAITING), DispatchJob.agent_id.is_(None))
        .values(status=ACCEPTED, agent_id=agent.id, accepted_at=now, updated_at=now, version=DispatchJob.version + 1),
        execution_options={"synchronize_session": False}).rowcount
    if won != 1:
        raise ApiError("already_taken")
    took = session.execute(sa.update(DispatchAgent).where(DispatchAgent.id == agent.id, DispatchAgent.job_id.is_(None))
                           .values(job_id=job.id, updated_at=now), execution_options={"synchronize_session": False})
    if took.rowcount != 1:
        raise ApiError("agent_busy")
    offer.state, offer.answered_at = "accepted", now
    expire_pending(session, config, job.id, now, state="withdrawn")
    release_offered(config, [agent.id])  # its hold would hide it again right after a short ride
    timers.cancel(session, subject_type=SUBJECT, subject_id=job.id, kind=OFFER_TIMEOUT_KIND)
    session.flush()
    session.refresh(job)
    session.refresh(agent)
    record(session, job, "accept", source=source, now=now, actor=principal.account_id, agent=agent.id)
    index_agent(config, agent)
    notify(session, clock, config, job, "accepted", [job.requester_account_id], **_agent_extra(session, config, agent))
    changed(session, clock, config, job, "accept")
    return job


def decline(session: Session, *, clock: Clock, principal: Principal, config: DispatchConfig,
            job_id: int) -> DispatchJob:
    """The offered agent declines; when no offer of the round is left pending, the next round runs now."""
    job = lock_job(session, job_id, config.slug)
    agent = require_agent(session, config, principal)
    offer = _my_offer(session, job, agent)
    now = clock.now()
    if offer.state != "pending" or offer.expires_at <= now:
        raise ApiError("offer_expired" if offer.state in ("pending", "expired") else "offer_not_pending")
    offer.state, offer.answered_at = "declined", now
    session.flush()
    release_offered(config, [agent.id])
    record(session, job, "decline", source=job.status, now=now, actor=principal.account_id, agent=agent.id)
    left = session.scalar(sa.select(sa.func.count()).select_from(DispatchOffer).where(
        DispatchOffer.job_id == job.id, DispatchOffer.state == "pending"))
    if not left and job.status in WAITING:
        run_round(session, clock, config, job)
    return job


def advance(session: Session, *, clock: Clock, principal: Principal, config: DispatchConfig, job_id: int,
            stage: Stage, **fields: Any) -> DispatchJob:
    """The serving agent moves the job one stage on (arrived, start, complete with a fare…)."""
    job = lock_job(session, job_id, config.slug)
    if relation(session, principal, job) != AGENT:
        raise ApiError("forbidden")
    return finish(session, clock=clock, config=config, job=job, stage=stage, actor=principal.account_id, **fields)


def finish(session: Session, *, clock: Clock, config: DispatchConfig, job: DispatchJob, stage: Stage,
           actor: int | None, **fields: Any) -> DispatchJob:
    """Move the locked job through ``stage`` (``advance`` once the caller is its agent; a
    scenario on its own authority: elderly-sos ends the call when its alarm closes)."""
    if job.status != stage.source:
        raise _invalid(job)
    now = clock.now()
    job.status, job.updated_at, job.version = stage.target, now, job.version + 1
    if stage.stamp:
        setattr(job, stage.stamp, now)
    if fields:
        job.details = {**job.details, **fields}
    final = job.status in final_statuses(config.stages)
    if final:
        job.ended_at = now
    session.flush()
    record(session, job, stage.action, source=stage.source, now=now, actor=actor, **fields)
    if final:
        free_agent(session, config, job.agent_id, now)
    notify(session, clock, config, job, stage.action, [job.requester_account_id],
           **_agent_extra(session, config, session.get(DispatchAgent, job.agent_id)))
    changed(session, clock, config, job, stage.action)
    return job


def cancel(session: Session, *, clock: Clock, principal: Principal, config: DispatchConfig, job_id: int,
           reason: str) -> DispatchJob:
    """Either side cancels with a reason: the requester while it is in ``requester_cancel_from``,
    the serving agent in ``agent_cancel_from``; the other side is told."""
    job = lock_job(session, job_id, config.slug)
    how = relation(session, principal, job)
    if how == REQUESTER:
        allowed, by, other = config.requester_cancel_from, "requester", job.agent_id
    elif how == AGENT:
        allowed, by, other = config.agent_cancel_from, "agent", None
    else:
        raise ApiError("forbidden")
    if job.status not in allowed:
        raise _invalid(job)
    now = clock.now()
    source = job.status
    expire_pending(session, config, job.id, now, state="withdrawn")
    timers.cancel(session, subject_type=SUBJECT, subject_id=job.id, kind=OFFER_TIMEOUT_KIND)
    job.status, job.ended_at, job.updated_at, job.version = CANCELLED, now, now, job.version + 1
    job.cancelled_by, job.cancel_reason = by, reason
    session.flush()
    record(session, job, "cancel", source=source, now=now, actor=principal.account_id, by=by, reason=reason)
    told = {"reason": reason}
    free_agent(session, config, job.agent_id, now)
    if by == "agent":
        notify(session, clock, config, job, "cancelled", [job.requester_account_id], key="cancelled", **told)
    elif other is not None:
        account = session.scalar(sa.select(DispatchAgent.account_id).where(DispatchAgent.id == other))
        notify(session, clock, config, job, "cancelled", [account], key="cancelled", **told)
    changed(session, clock, config, job, "cancel")
    return job


def pending_offers(session: Session, *, clock: Clock, principal: Principal,
                   config: DispatchConfig) -> list[tuple[DispatchOffer, DispatchJob]]:
    """The caller's offers still open (not expired by the clock, even when the worker is late)."""
    agent = require_agent(session, config, principal)
    now: datetime = clock.now()
    rows = session.execute(sa.select(DispatchOffer, DispatchJob)
                           .join(DispatchJob, DispatchJob.id == DispatchOffer.job_id)
                           .where(DispatchOffer.agent_id == agent.id, DispatchOffer.state == "pending",
                                  DispatchOffer.expires_at > now, DispatchJob.status.in_(WAITING))
                           .order_by(DispatchOffer.expires_at)).all()
    return [(o, j) for o, j in rows]


def jobs_query(session: Session, *, principal: Principal, config: DispatchConfig,
               status: str | None = None) -> sa.Select:
    """The caller's list: a requester's own jobs, an agent's served jobs, an agent organisation's
    staff their agents' jobs, the district every job; newest first."""
    stmt = sa.select(DispatchJob).where(DispatchJob.scenario == config.slug)
    if principal.is_resident:
        stmt = stmt.where(DispatchJob.requester_account_id == principal.account_id)
    elif principal.is_staff and principal.org_type == "district":
        pass
    elif principal.is_staff and principal.org_type in config.serving_org_types \
            and principal.role in config.agent_roles:
        mine = sa.select(DispatchAgent.id).where(DispatchAgent.scenario == config.slug,
                                                 DispatchAgent.account_id == principal.account_id)
        stmt = stmt.where(DispatchJob.agent_id.in_(mine))
    elif principal.is_staff:
        agents = sa.select(DispatchAgent.id).where(DispatchAgent.scenario == config.slug,
                                                   DispatchAgent.org_id == principal.org_id)
        stmt = stmt.where(DispatchJob.agent_id.in_(agents))
    else:
        raise ApiError("forbidden")
    if status is not None:
        stmt = stmt.where(DispatchJob.status == status)
    return stmt.order_by(DispatchJob.created_at.desc(), DispatchJob.id.desc())
