"""SLA policies as data: the effective policy of a new ticket, and versioned changes.

A change never edits a row: it deactivates the active one and adds a new one, so a ticket
keeps the policy (and due times) it was created under, and a change applies to tickets
created after it. When a scenario has no row yet, its config's default becomes the first
row on first use.

Filing a ticket reads the effective policy and its calendar (``new_ticket_terms``). A web
process may keep them for ``SLA_CACHE_SECONDS`` (30 by default; 0, the default under
``APP_ENV=test`` and in processes that build no web app, reads them every time): a change made
in this process (``set_policy``, ``app.calendar.load_calendar_days``) applies to the next ticket at
once; one made in another process (the other gunicorn workers, ``flask sla set-policy``)
applies there within that many seconds. Only rows read from the database are kept, never a
default created in the current (not yet committed) transaction.
"""
from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.calendar import Calendar, calendar_changed
from app.errors import ApiError
from scenarios.engines.workflow.config import WorkflowConfig
from scenarios.engines.workflow.models import CALENDARS, SlaPolicy
from scenarios.engines.workflow.sla import calendar_for


def _active(session: Session, scenario: str, category: str | None) -> SlaPolicy | None:
    cond = SlaPolicy.category.is_(None) if category is None else SlaPolicy.category == category
    return session.scalar(sa.select(SlaPolicy).where(SlaPolicy.scenario == scenario, cond,
                                                     SlaPolicy.active.is_(True)))


def _active_for(session: Session, scenario: str, category: str) -> SlaPolicy | None:
    """The active policy of ``category``, else the scenario's active default row."""
    return session.scalars(
        sa.select(SlaPolicy).where(SlaPolicy.scenario == scenario, SlaPolicy.active.is_(True),
                                   sa.or_(SlaPolicy.category == category, SlaPolicy.category.is_(None)))
        .order_by(SlaPolicy.category.is_(None)).limit(1)).first()  # the category's own first


def effective_policy(session: Session, *, config: WorkflowConfig, category: str, now: datetime) -> SlaPolicy:
    """The active policy of ``category``, else the scenario's default (created from the config)."""
    policy = _active_for(session, config.slug, category)
    keyed = (config.sla_defaults or {}).get(category)
    if policy is not None and (keyed is None or policy.category == category):
        return policy
    d = keyed or config.default_sla
    own = category if keyed is not None else None
    try:
        with session.begin_nested():
            policy = SlaPolicy(scenario=config.slug, category=own, response_minutes=d.response_minutes,
                               resolution_minutes=d.resolution_minutes, calendar=d.calendar,
                               work_start_minute=d.work_start_minute, work_end_minute=d.work_end_minute,
                               active=True, created_at=now)
            session.add(policy)
    except IntegrityError:  # another transaction created it first
        policy = _active(session, config.slug, own)
        assert policy is not None
    return policy


@dataclass(frozen=True)
class Terms:
    """What a new ticket takes from its policy (a copy: it outlives the session that read it)."""

    id: int
    response_minutes: int
    resolution_minutes: int | None
    calendar: str
    work_start_minute: int
    work_end_minute: int

    @classmethod
    def of(cls, policy: SlaPolicy) -> Terms:
        return cls(policy.id, policy.response_minutes, policy.resolution_minutes, policy.calendar,
                   policy.work_start_minute, policy.work_end_minute)


class TermsCache:
    """(scenario, category) → (terms, calendar) for ``ttl`` seconds; off when ``ttl`` is 0."""

    def __init__(self, ttl: float = 0.0, now: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.now = now
        self.generation = 0
        self._entries: dict[tuple[str, str], tuple[Terms, Calendar, float, int]] = {}
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        """Forget everything (after a change of policies or calendar days in this process)."""
        with self._lock:
            self.generation += 1
            self._entries = {}

    def get(self, key: tuple[str, str]) -> tuple[Terms, Calendar] | None:
        entry = self._entries.get(key)
        if entry is None or entry[3] != self.generation or self.now() - entry[2] >= self.ttl:
            return None
        return entry[0], entry[1]

    def put(self, key: tuple[str, str], terms: Terms, calendar: Calendar, generation: int) -> None:
        with self._lock:
            if generation == self.generation:  # nothing changed while it was read
                self._entries[key] = (terms, calendar, self.now(), generation)


CACHE_KEY = "sla_terms_cache"
_ALL: weakref.WeakSet[TermsCache] = weakref.WeakSet()


@calendar_changed.connect
def _on_calendar_changed(sender: object, **_: object) -> None:
    for cache in list(_ALL):
        cache.invalidate()  # calendars kept for new tickets


def setup(app: Any) -> None:
    """The engine's ``setup``: the app's cache, ``SLA_CACHE_SECONDS`` long (30 by default, 0 —
    no cache — under ``APP_ENV=test``). One per app, so an app built for other ends (the spec,
    a CLI) never changes what another app in the process keeps."""
    settings = app.extensions["settings"]
    default = "0" if getattr(settings, "app_env", "") == "test" else "30"
    raw = settings.get("SLA_CACHE_SECONDS", default) or default
    try:
        ttl = max(0.0, float(raw))
    except ValueError:
        raise ValueError(f"SLA_CACHE_SECONDS must be a number of seconds, not {raw!r}") from None
    cache = app.extensions[CACHE_KEY] = TermsCache(ttl)
    _ALL.add(cache)


def _cache() -> TermsCache | None:
    """The current app's cache, when there is an app and its cache is on."""
    if not has_app_context():
        return None
    cache = current_app.extensions.get(CACHE_KEY)
    return cache if cache is not None and cache.ttl > 0 else None


def new_ticket_terms(session: Session, *, config: WorkflowConfig, category: str,
                     now: datetime) -> tuple[Terms, Calendar]:
    """The effective policy of a new ticket of ``category`` and the calendar it counts in."""
    key = (config.slug, category)
    cache = _cache()
    if cache is not None:
        hit = cache.get(key)
        if hit is not None:
            return hit
        generation = cache.generation
    policy = _active_for(session, config.slug, category)
    if policy is None or (policy.category is None and category in (config.sla_defaults or {})):
        # created now, in this transaction: not kept
        policy = effective_policy(session, config=config, category=category, now=now)
        return Terms.of(policy), calendar_for(session, policy)
    terms, calendar = Terms.of(policy), calendar_for(session, policy)
    if cache is not None:
        cache.put(key, terms, calendar, generation)
    return terms, calendar


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
    if category is not None and category not in config.categories and category not in (config.sla_defaults or {}):
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
    cache = _cache()
    if cache is not None:
        cache.invalidate()
    return policy


def list_policies(session: Session, *, scenario: str | None = None, include_inactive: bool = False) -> list[SlaPolicy]:
    stmt = sa.select(SlaPolicy)
    if scenario:
        stmt = stmt.where(SlaPolicy.scenario == scenario)
    if not include_inactive:
        stmt = stmt.where(SlaPolicy.active.is_(True))
    return list(session.scalars(stmt.order_by(SlaPolicy.scenario, SlaPolicy.category.is_not(None),
                                              SlaPolicy.category, SlaPolicy.id)))
