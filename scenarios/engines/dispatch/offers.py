"""Offers and their rounds: a job offers itself to the nearest batch of available agents, each
offer with a timeout held as one timer per job (``dispatch.offer_timeout``).

A round (``run_round``, with the job locked): pending offers expire; if the job has used its
rounds or its offers, it ends ``unserved`` and the requester is told; otherwise the next batch
is sought at the current radius, widening through ``radii_m`` while nobody is found, never an
agent offered this job before (one offer per (job, agent), a unique key). Found: offers are
written, the agents told (the scenario's channel: WeCom for staff, SMS when urgent), the job
``offered``; none: the job stays ``requested`` and the next round retries. Either way the
timer is armed for ``offer_timeout`` later. When every offer of a round is declined the next
round runs at once.

The timer fires in the worker's transaction: a worker killed mid-round rolls back, the timer
stays pending, and the next worker runs the same round (no offer skipped or repeated).
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import timers
from app.clock import Clock
from app.notify.service import Notice, Recipient, enqueue_many
from app.timers import Timer, timer_handler
from scenarios.engines.dispatch.config import DispatchConfig, config_for
from scenarios.engines.dispatch.models import (
    OFFER_TIMEOUT_KIND,
    SUBJECT,
    DispatchEvent,
    DispatchJob,
    DispatchOffer,
)
from scenarios.engines.dispatch.nearby import hold_offered, nearest, release_offered
from scenarios.engines.dispatch.states import OFFERED, REQUESTED, UNSERVED, WAITING

log = logging.getLogger("scenarios.engines.dispatch")


def record(session: Session, job: DispatchJob, action: str, *, source: str | None, now: datetime,
           actor: int | None = None, **data: Any) -> None:
    """One trail row per change of the job."""
    session.add(DispatchEvent(job_id=job.id, action=action, from_status=source, to_status=job.status,
                              actor_account_id=actor, at=now, data=data))


def job_number(config: DispatchConfig, job: DispatchJob) -> str:
    """The reference staff and residents quote (``taxi-000042``); notices call it ``ticket_no``."""
    return f"{config.slug}-{job.id:06d}"


def notice(clock: Clock, config: DispatchConfig, job: DispatchJob, name: str, account_ids: list[int], *,
           key: str | None = None, urgent: bool = False, **payload: Any) -> Notice | None:
    """What ``notify`` enqueues (None: the scenario names no template, or nobody is told)."""
    template = config.templates.get(name)
    account_ids = [a for a in account_ids if a is not None]  # a job on nobody's account tells no requester
    if template is None or not account_ids:
        return None
    body = {"job_id": job.id, "ticket_no": job_number(config, job), "title": config.title_zh,
            "pickup": job.origin_label, "status": job.status, "at": clock.now().isoformat(), **payload}
    return Notice(f"dispatch:{job.id}:{key or name}", template, tuple(Recipient.account(a) for a in account_ids),
                  body, config.notify_channel, urgent)


def notify(session: Session, clock: Clock, config: DispatchConfig, job: DispatchJob, name: str,
           account_ids: list[int], *, key: str | None = None, urgent: bool = False, **payload: Any) -> None:
    """Tell people of a change through the outbox (once per event and recipient); the scenario
    names the template, or the notice is not sent. Payloads carry no personal data: ``pickup`` is
    a public pick-up point (``origin.label``), never an address."""
    found = notice(clock, config, job, name, account_ids, key=key, urgent=urgent, **payload)
    if found is not None:
        enqueue_many(session, [found], clock=clock)


def expire_pending(session: Session, config: DispatchConfig, job_id: int, now: datetime,
                   state: str = "expired") -> list[int]:
    """End the job's pending offers (``expired`` by time, ``withdrawn`` when it was taken or
    cancelled); their agents are searchable again. The agents' ids. Expired ones need no
    release: a hold is void once its expiry is past (``nearby.SEARCH_SCRIPT``)."""
    agent_ids = list(session.scalars(
        sa.update(DispatchOffer).where(DispatchOffer.job_id == job_id, DispatchOffer.state == "pending")
        .values(state=state, answered_at=now).returning(DispatchOffer.agent_id),
        execution_options={"synchronize_session": False}))
    if state != "expired":
        release_offered(config, agent_ids)
    return agent_ids


def end_unserved(session: Session, clock: Clock, config: DispatchConfig, job: DispatchJob, now: datetime) -> None:
    source = job.status
    job.status, job.ended_at, job.updated_at, job.version = UNSERVED, now, now, job.version + 1
    timers.cancel(session, subject_type=SUBJECT, subject_id=job.id, kind=OFFER_TIMEOUT_KIND)
    record(session, job, "unserved", source=source, now=now, rounds=job.round, offers=job.offers_made)
    notify(session, clock, config, job, "unserved", [job.requester_account_id], urgent=config.urgent_offers)
    changed(session, clock, config, job, "unserved")


def changed(session: Session, clock: Clock, config: DispatchConfig, job: DispatchJob, action: str) -> None:
    """The scenario's ``on_change`` hook, when it has one."""
    if config.on_change is not None:
        config.on_change(session, clock=clock, job=job, action=action)


def _still_open(session: Session, job_id: int, now: datetime) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(DispatchOffer).where(
        DispatchOffer.job_id == job_id, DispatchOffer.state == "pending", DispatchOffer.expires_at > now)) or 0


def run_round(session: Session, clock: Clock, config: DispatchConfig, job: DispatchJob) -> list[DispatchOffer]:
    """The job's next round (module docstring). The job is locked and waiting."""
    now = clock.now()
    if not config.keep_offers and job.round > 0:  # round 0: a new job, no offer made yet
        expire_pending(session, config, job.id, now)
    if job.round >= config.max_rounds or job.offers_made >= config.max_offers:
        end_unserved(session, clock, config, job, now)
        return []
    source = job.status
    want = min(config.batch_size, config.max_offers - job.offers_made)
    with session.no_autoflush:  # the job's changes go in the round's one flush, not one per search
        job.round += 1
        while True:
            radius = config.radii_m[job.radius_index]
            found = nearest(session, config, lat=job.origin_lat, lon=job.origin_lon, radius_m=radius, limit=want,
                            now=now, job_id=job.id)
            if found or job.radius_index >= len(config.radii_m) - 1:
                break
            job.radius_index += 1
    lifetime = (config.offer_lifetime or config.offer_timeout) if config.keep_offers else config.offer_timeout
    expires = now + lifetime
    offers = [DispatchOffer(job_id=job.id, agent_id=c.agent_id, round=job.round, state="pending",
                            distance_m=None if c.distance_m is None else round(c.distance_m),
                            offered_at=now, expires_at=expires) for c in found]
    session.add_all(offers)
    hold_offered(config, {o.agent_id: expires for o in offers})
    job.offers_made += len(offers)
    job.status = OFFERED if offers or (config.keep_offers and _still_open(session, job.id, now)) else REQUESTED
    job.updated_at = now
    if job.status != source:
        job.version += 1
    record(session, job, "offer", source=source, now=now, round=job.round,
           radius_m=config.radii_m[job.radius_index], agents=[o.agent_id for o in offers])
    # The timer's upsert flushes first: the offers, the job and the trail (the request's row and
    # this round's in one INSERT) in one unit of work.
    timers.schedule(session, subject_type=SUBJECT, subject_id=job.id, kind=OFFER_TIMEOUT_KIND,
                    due_at=now + config.offer_timeout, payload={"round": job.round})
    if offers:
        accounts = {c.agent_id: c.account_id for c in found}
        notices = [notice(clock, config, job, "offer", [accounts[offer.agent_id]], key=f"offer:{offer.agent_id}",
                          urgent=config.urgent_offers, distance_m=offer.distance_m, expires_at=expires.isoformat())
                   for offer in offers]  # one enqueue for the round (a call centre's: every operator)
        enqueue_many(session, [n for n in notices if n is not None], clock=clock)
    return offers


@timer_handler(OFFER_TIMEOUT_KIND)
def offer_timeout(session: Session, timer: Timer, clock: Clock) -> None:
    """No answer in time: the next round (or unserved)."""
    job = session.scalar(sa.select(DispatchJob).where(DispatchJob.id == int(timer.subject_id)).with_for_update())
    if job is None or job.status not in WAITING:
        return
    config = config_for(job.scenario)
    if config is None:
        raise LookupError(f"no dispatch scenario {job.scenario!r} in this process")
    run_round(session, clock, config, job)
