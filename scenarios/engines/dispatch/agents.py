"""Agents: who may serve a scenario, going on and off duty, and their positions.

An agent is a staff member of the scenario's kind of organisation (``agent_org_type``) in one
of its ``agent_roles``, acting for that organisation; the row is made the first time they go
on duty. Positions come as ``wx.getLocation`` gives them (WGS84). Each is kept encrypted in
the history; the latest is also kept in clear on the agent's row while they are on duty (the
search needs it), and cleared when they go off duty. A position timestamped in the future is a
422 ``position_in_future``; an older one than the latest only joins the history; one outside
the district is kept and makes the agent unavailable for new jobs until they are back.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.db import fast_paths_apply
from app.errors import ApiError
from app.geo import inside_district
from auth.principal import Principal
from auth.signals import membership_disabled
from scenarios.engines.dispatch.config import CONFIGS, DispatchConfig
from scenarios.engines.dispatch.models import DispatchAgent, DispatchOffer, DispatchPosition
from scenarios.engines.dispatch.nearby import index_agent, release_offered

FUTURE_LEEWAY = timedelta(seconds=10)
"""Phones' clocks drift: a position up to this far ahead of the server's clock is taken as now."""


def is_agent_principal(principal: Principal, config: DispatchConfig) -> bool:
    return (principal.is_staff and principal.org_type in config.serving_org_types
            and principal.role in config.agent_roles)


def oversees_agents(principal: Principal, config: DispatchConfig) -> bool:
    """Staff of a serving organisation who are not agents themselves (a taxi company's managers
    and staff) see their organisation's agents (``org_agents``)."""
    return (principal.is_staff and principal.org_type in config.serving_org_types
            and principal.role not in config.agent_roles)


def org_agents(session: Session, *, principal: Principal, config: DispatchConfig) -> list[Any]:
    """The caller's organisation's agents in this scenario with their usernames and display
    names (rows ``(agent, username, name)``), oldest first: on duty, serving, last position's
    time — never the position (403 for anyone but ``oversees_agents``)."""
    from auth.contacts import StaffContact
    from auth.models import Account

    if not oversees_agents(principal, config):
        raise ApiError("forbidden")
    return list(session.execute(
        sa.select(DispatchAgent, Account.username, StaffContact.display_name)
        .join(Account, Account.id == DispatchAgent.account_id)
        .outerjoin(StaffContact, StaffContact.account_id == DispatchAgent.account_id)
        .where(DispatchAgent.scenario == config.slug, DispatchAgent.org_id == principal.org_id)
        .order_by(DispatchAgent.id)).all())


def agent_of(session: Session, config: DispatchConfig, principal: Principal, *,
             lock: bool = False) -> DispatchAgent | None:
    """The caller's agent row in this scenario (None when they never went on duty, or are no agent)."""
    if not is_agent_principal(principal, config):
        return None
    stmt = sa.select(DispatchAgent).where(DispatchAgent.scenario == config.slug,
                                          DispatchAgent.account_id == principal.account_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def require_agent(session: Session, config: DispatchConfig, principal: Principal, *,
                  lock: bool = False) -> DispatchAgent:
    """The caller's agent row; 403 ``not_an_agent`` for other staff, 409 ``agent_off_duty`` for an
    agent who never went on duty."""
    if not is_agent_principal(principal, config):
        raise ApiError("not_an_agent")
    agent = agent_of(session, config, principal, lock=lock)
    if agent is None:
        raise ApiError("agent_off_duty")
    return agent


def set_duty(session: Session, *, clock: Clock, principal: Principal, config: DispatchConfig,
             on_duty: bool, details: dict[str, Any] | None = None) -> DispatchAgent:
    """Go on duty (the row is made the first time; ``details``: what the scenario asks, a plate) or
    off duty (not while serving a job: 409 ``agent_busy``). Off duty clears the latest position:
    it is kept in clear only on duty."""
    if not is_agent_principal(principal, config):
        raise ApiError("not_an_agent")
    now = clock.now()
    agent = agent_of(session, config, principal, lock=True)
    if agent is None:
        agent = DispatchAgent(scenario=config.slug, account_id=principal.account_id, org_id=principal.org_id,
                              on_duty=False, outside_area=False, details={}, updated_at=now)
        session.add(agent)
    agent.org_id = principal.org_id
    if details is not None:
        agent.details = details
    if on_duty and not agent.on_duty:
        agent.on_duty, agent.available_since = True, now
    elif not on_duty:
        if agent.job_id is not None:
            raise ApiError("agent_busy", errors={"on_duty": ["请先完成或取消进行中的订单。"]})
        agent.on_duty, agent.available_since = False, None
        agent.lat = agent.lon = agent.position_at = None
        agent.outside_area = False
    agent.updated_at = now
    session.flush()
    index_agent(config, agent)
    return agent


def report_position(session: Session, *, clock: Clock, principal: Principal, config: DispatchConfig,
                    lat: float, lon: float, at: datetime | None = None) -> Any:
    """Record a position (WGS84) in the history and, when it is the newest, as the latest. On
    PostgreSQL in one statement (``fastpath.report_position``); the answer is the agent."""
    now = clock.now()
    at = at or now
    if at > now + FUTURE_LEEWAY:
        raise ApiError("position_in_future", errors={"at": ["位置时间晚于服务器时间。"]})
    at = min(at, now)
    if is_agent_principal(principal, config) and fast_paths_apply(session):
        from scenarios.engines.dispatch import fastpath

        fast = fastpath.report_position(session, scenario=config.slug, account_id=principal.account_id, lat=lat,
                                        lon=lon, at=at, now=now, outside=not inside_district(lat, lon))
        if fast is not None:
            index_agent(config, fast)
            return fast
    agent = require_agent(session, config, principal)
    if not agent.on_duty:
        raise ApiError("agent_off_duty")
    session.add(DispatchPosition(agent_id=agent.id, at=at, point=f"{lat:.6f},{lon:.6f}"))
    if agent.position_at is None or at >= agent.position_at:
        agent.lat, agent.lon, agent.position_at = lat, lon, at
        agent.outside_area = not inside_district(lat, lon)
        agent.updated_at = now
    session.flush()
    index_agent(config, agent)
    return agent


def free_agent(session: Session, config: DispatchConfig, agent_id: int | None, now: datetime) -> None:
    """The agent's job ended: available again (and back in the index when their position is fresh)."""
    if agent_id is None:
        return
    agent = session.get(DispatchAgent, agent_id, with_for_update=True)
    if agent is None:
        return
    agent.job_id, agent.available_since, agent.updated_at = None, now, now
    session.flush()
    index_agent(config, agent)


def stand_down(session: Session, *, account_id: int, org_id: int, now: datetime) -> int:
    """The member may no longer act for ``org_id``: each of their agent rows for it goes off duty
    (position cleared, out of the index) and their pending offers are withdrawn, so no job waits
    on someone who cannot answer (its timer offers it on at the timeout). A job they are serving
    keeps them (the ride is under way; their company sees it and may cancel). How many rows."""
    agents = session.scalars(sa.select(DispatchAgent).where(
        DispatchAgent.account_id == account_id, DispatchAgent.org_id == org_id, DispatchAgent.on_duty.is_(True))
        .with_for_update()).all()
    for agent in agents:
        agent.on_duty, agent.available_since = False, None
        agent.lat = agent.lon = agent.position_at = None
        agent.outside_area, agent.updated_at = False, now
        session.execute(sa.update(DispatchOffer).where(DispatchOffer.agent_id == agent.id,
                                                       DispatchOffer.state == "pending")
                        .values(state="withdrawn", answered_at=now), execution_options={"synchronize_session": False})
    session.flush()
    for agent in agents:
        config = CONFIGS.get(agent.scenario)
        if config is not None:
            index_agent(config, agent)
            release_offered(config, [agent.id])  # back on duty within the offer's time: searchable
    return len(agents)


@membership_disabled.connect
def _on_membership_disabled(sender: object, *, session: Session, account_id: int, org_id: int, at: datetime,
                            **_: object) -> None:
    stand_down(session, account_id=account_id, org_id=org_id, now=at)
