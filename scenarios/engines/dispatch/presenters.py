"""Jobs, offers and agents as each caller may see them.

The requester sees the serving agent's masked name, the scenario's extra fields (a plate) and,
only while the job is active, the agent's distance from the pick-up point (to 10 m) and
position coarsened to about 100 m (PIPL art. 28: a position is shown for the job, not after).
The requester's private fields (a destination) are shown to them and to the serving agent
once accepted, never to agents merely offered the job.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.geo import haversine_m
from auth.contacts import StaffContact
from auth.models import Person
from auth.pii import mask_name
from scenarios.engines.dispatch.access import AGENT, OFFEREE, REQUESTER
from scenarios.engines.dispatch.config import DispatchConfig
from scenarios.engines.dispatch.models import DispatchAgent, DispatchJob, DispatchOffer
from scenarios.engines.dispatch.states import WAITING

COARSE_DECIMALS = 3  # about 110 m of latitude


def agent_name(session: Session, account_id: int) -> str | None:
    return session.scalar(sa.select(StaffContact.display_name).where(StaffContact.account_id == account_id))


def _agent_view(session: Session, config: DispatchConfig, job: DispatchJob, active: bool) -> dict[str, Any] | None:
    if job.agent_id is None:
        return None
    agent = session.get(DispatchAgent, job.agent_id)
    view: dict[str, Any] = {"name": mask_name(agent_name(session, agent.account_id)),
                            "extra": config.agent_view(session, agent) if config.agent_view else {},
                            "distance_m": None, "position": None}
    if active and agent.lat is not None and agent.on_duty:
        view["distance_m"] = int(round(haversine_m(job.origin_lat, job.origin_lon, agent.lat, agent.lon), -1))
        view["position"] = {"lat": round(agent.lat, COARSE_DECIMALS), "lon": round(agent.lon, COARSE_DECIMALS)}
    return view


def allowed_actions(session: Session, config: DispatchConfig, job: DispatchJob, how: str, now: datetime,
                    agent_id: int | None = None) -> list[str]:
    if how == REQUESTER:
        return ["cancel"] if job.status in config.requester_cancel_from else []
    if how == AGENT:
        acts = [s.action for s in config.stages if s.source == job.status]
        return acts + (["cancel"] if job.status in config.agent_cancel_from else [])
    if how == OFFEREE and job.status in WAITING and agent_id is not None:
        pending = session.scalar(sa.select(DispatchOffer.id).where(
            DispatchOffer.job_id == job.id, DispatchOffer.agent_id == agent_id, DispatchOffer.state == "pending",
            DispatchOffer.expires_at > now))
        return ["accept", "decline"] if pending else []
    return []


def job_view(session: Session, config: DispatchConfig, job: DispatchJob, how: str, *, now: datetime,
             agent_id: int | None = None) -> dict[str, Any]:
    active = job.status in config.active_statuses
    private = None
    if job.private and (how == REQUESTER or (how == AGENT and job.status not in WAITING)):
        private = json.loads(job.private)
    requester = None
    if how == AGENT and job.requester_person_id is not None:
        requester = mask_name(session.scalar(sa.select(Person.name).where(Person.id == job.requester_person_id)))
    return {
        "id": job.id, "scenario": job.scenario, "status": job.status, "area": job.area,
        "origin": {"label": job.origin_label, "lat": job.origin_lat, "lon": job.origin_lon},
        "details": job.details or {}, "private": private,
        "agent": _agent_view(session, config, job, active) if how != OFFEREE else None,
        "requester": requester, "round": job.round, "created_at": job.created_at,
        "accepted_at": job.accepted_at, "arrived_at": job.arrived_at, "started_at": job.started_at,
        "ended_at": job.ended_at, "cancelled_by": job.cancelled_by, "cancel_reason": job.cancel_reason,
        "version": job.version,
        "allowed_actions": allowed_actions(session, config, job, how, now, agent_id),
    }


def offer_view(offer: DispatchOffer, job: DispatchJob) -> dict[str, Any]:
    return {"job_id": job.id, "round": offer.round, "distance_m": offer.distance_m, "offered_at": offer.offered_at,
            "expires_at": offer.expires_at,
            "origin": {"label": job.origin_label, "lat": job.origin_lat, "lon": job.origin_lon}}


def agent_state(agent: DispatchAgent | None, config: DispatchConfig, now: datetime) -> dict[str, Any]:
    if agent is None:
        return {"on_duty": False, "job_id": None, "position_at": None, "outside_area": False, "available": False}
    fresh = (not config.positions) or (agent.position_at is not None
                                       and agent.position_at >= now - config.position_max_age)
    return {"on_duty": agent.on_duty, "job_id": agent.job_id, "position_at": agent.position_at,
            "outside_area": agent.outside_area,
            "available": bool(agent.on_duty and agent.job_id is None and not agent.outside_area and fresh)}
