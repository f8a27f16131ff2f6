"""SLA policies as data: the effective policy of a new ticket, and versioned changes.

A change never edits a row: it deactivates the active one and adds a new one, so a ticket
keeps the policy (and due times) it was created under, and a change applies to tickets
created after it. When a scenario has no row yet, its config's default becomes the first
row on first use.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.errors import ApiError
from scenarios.engines.workflow.config import WorkflowConfig
from scenarios.engines.workflow.models import CALENDARS, SlaPolicy


def _active(session: Session, scenario: str, category: str | None) -> SlaPolicy | None:
    cond = SlaPolicy.category.is_(None) if category is None else SlaPolicy.category == category
    return session.scalar(sa.select(SlaPolicy).where(SlaPolicy.scenario == scenario, cond,
                                                     SlaPolicy.active.is_(True)))


def effective_policy(session: Session, *, config: WorkflowConfig, category: str, now: datetime) -> SlaPolicy:
    """The active policy of ``category``, else the scenario's default (created from the config)."""
    policy = session.scalars(
        sa.select(SlaPolicy).where(SlaPolicy.scenario == config.slug, SlaPolicy.active.is_(True),
                                   sa.or_(SlaPolicy.category == category, SlaPolicy.category.is_(None)))
        .order_by(SlaPolicy.category.is_(None)).limit(1)).first()  # the category's own first
    if policy is not None:
        return policy
    d = config.default_sla
    try:
        with session.begin_nested():
            policy = SlaPolicy(scenario=config.slug, category=None, response_minutes=d.response_minutes,
                               resolution_minutes=d.resolution_minutes, calendar=d.calendar,
                               work_start_minute=d.work_start_minute, work_end_minute=d.work_end_minute,
                               active=True, created_at=now)
            session.add(policy)
    except IntegrityError:  # another transaction created it first
        policy = _active(session, config.slug, None)
        assert policy is not None
    return policy


def set_policy(
    session: Session,
    *,
    config: WorkflowConfig,
    category: str | None,
    response_minutes: int,
    resolution_minutes: int | None,
    calendar: str = "24x7",
    work_start_minute: int = 9 * 60,
    work_end_minute: int = 17 * 60,
    now: datetime,
    actor_account_id: int | None = None,
) -> SlaPolicy:
    """Replace the active policy of (scenario, category); returns the new version."""
    if category is not None and category not in config.categories:
        raise ApiError("unknown_category", errors={"category": [f"未知类别：{category}"]})
    if calendar not in CALENDARS:
        raise ApiError("validation_error", errors={"calendar": ["须为 24x7 或 business。"]})
    if response_minutes < 1 or (resolution_minutes is not None and resolution_minutes < 1):
        raise ApiError("validation_error", errors={"response_minutes": ["时限须为正整数（分钟）。"]})
    if not 0 <= work_start_minute < work_end_minute <= 1440:
        raise ApiError("validation_error", errors={"work_start_minute": [
            "工作时间须在 0–1440 分钟之间且开始早于结束。"]})
    cond = SlaPolicy.category.is_(None) if category is None else SlaPolicy.category == category
    session.execute(sa.update(SlaPolicy).where(SlaPolicy.scenario == config.slug, cond,
                                               SlaPolicy.active.is_(True)).values(active=False))
    policy = SlaPolicy(scenario=config.slug, category=category, response_minutes=response_minutes,
                       resolution_minutes=resolution_minutes, calendar=calendar,
                       work_start_minute=work_start_minute, work_end_minute=work_end_minute, active=True,
                       created_at=now, created_by_account_id=actor_account_id)
    try:
        with session.begin_nested():
            session.add(policy)
    except IntegrityError as exc:  # a concurrent change won
        raise ApiError("conflict") from exc
    return policy


def list_policies(session: Session, *, scenario: str | None = None, include_inactive: bool = False) -> list[SlaPolicy]:
    stmt = sa.select(SlaPolicy)
    if scenario:
        stmt = stmt.where(SlaPolicy.scenario == scenario)
    if not include_inactive:
        stmt = stmt.where(SlaPolicy.active.is_(True))
    return list(session.scalars(stmt.order_by(SlaPolicy.scenario, SlaPolicy.category.is_not(None),
                                              SlaPolicy.category, SlaPolicy.id)))
