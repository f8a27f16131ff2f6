"""Who sees a job, and locking a job for a change.

Visible to: its requester; agents it was offered to (whatever became of the offer: the loser
of a race must hear 409 ``already_taken``, not 404); staff of the organisation of the agent
serving it (not its other agents), and staff above it (``auth.permissions.reach``); the district. Anyone else: 404.
What each may do is decided after (service.py): 403 for the visible but not allowed.

Locking (PostgreSQL): a change first locks the job's pending timers, then the job row. The
worker holds a due timer's lock while its handler locks the job, so both take the locks in
the same order and cannot deadlock; an accept racing the offer timeout either commits first
(the handler then finds the job taken) or waits and finds its offer expired.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.errors import ApiError
from app.timers import PENDING, Timer
from auth.organisations import Organisation
from auth.permissions import reach
from auth.principal import Principal
from auth.visibility import register
from scenarios.engines.dispatch.config import config_for
from scenarios.engines.dispatch.models import SUBJECT, DispatchAgent, DispatchJob, DispatchOffer

REQUESTER, AGENT, OFFEREE, STAFF = "requester", "agent", "offeree", "staff"


def relation(session: Session, principal: Principal, job: DispatchJob) -> str | None:
    """How the caller relates to the job (``requester``, ``agent``, ``offeree``, ``staff``) or None."""
    if principal.is_resident:
        return REQUESTER if principal.account_id == job.requester_account_id else None
    if not principal.is_staff:
        return None
    mine = sa.select(DispatchAgent.id).where(DispatchAgent.scenario == job.scenario,
                                             DispatchAgent.account_id == principal.account_id).scalar_subquery()
    if job.agent_id is not None and session.scalar(sa.select(mine)) == job.agent_id:
        return AGENT
    offered = session.scalar(sa.select(DispatchOffer.id).where(DispatchOffer.job_id == job.id,
                                                               DispatchOffer.agent_id == mine))
    if offered is not None:
        return OFFEREE
    if principal.is_district_admin or principal.org_type == "district":
        return STAFF
    config = config_for(job.scenario)
    if config is not None and principal.role in config.agent_roles:
        return None  # an agent sees colleagues' jobs no more than anyone's
    if job.agent_id is not None:
        org = session.scalar(sa.select(Organisation).join(DispatchAgent, DispatchAgent.org_id == Organisation.id)
                             .where(DispatchAgent.id == job.agent_id))
        if org is not None and reach(principal, org, session=session) is not None:
            return STAFF
    return None


def _load(session: Session, key: Any) -> DispatchJob | None:
    try:
        return session.get(DispatchJob, int(key))
    except (TypeError, ValueError, OverflowError):
        return None


def _visible(session: Session, principal: Principal, job: DispatchJob) -> bool:
    return relation(session, principal, job) is not None


def register_object_type() -> None:
    register(SUBJECT, load=_load, visible=_visible,
             description="a dispatch job (a taxi ride): its requester, the agents offered it, the serving "
                         "agent's organisation, the district")


def lock_job(session: Session, job_id: int, scenario: str) -> DispatchJob:
    """Lock the job's pending timers, then the job (module docstring); 404 when it is gone or of
    another scenario (ids are shared by every dispatch scenario's URLs)."""
    session.execute(sa.select(Timer.id).where(Timer.subject_type == SUBJECT, Timer.subject_id == str(job_id),
                                              Timer.state == PENDING).with_for_update()).all()
    job = session.scalar(sa.select(DispatchJob).where(DispatchJob.id == job_id).with_for_update()
                         .execution_options(populate_existing=True))
    if job is None or job.scenario != scenario:
        raise ApiError("not_found")
    return job
