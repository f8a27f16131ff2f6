"""The telemetry engine's periodic jobs (run by the worker, ``app.periodic``).

- ``telemetry_mark_silent`` (every 15 s): a (device, kind) with no reading for longer than its
  kind's ``silent_after`` is marked offline by one ``UPDATE … WHERE status = 'online' AND
  silent_at <= now`` over rows claimed with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite has
  one writer): with any number of workers each silence is marked once, its ``on_offline`` hook
  runs and its ``silent`` alert opens, in the same transaction.
- ``telemetry_retention`` (every 10 minutes): readings past their kind's ``thin_after_days``
  are thinned to the last reading of each hour; past ``keep_days`` they are deleted.
"""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from app.clock import Clock
from app.periodic import _purge, periodic
from auth.models import Device
from scenarios.engines.telemetry import alerts
from scenarios.engines.telemetry.config import CONFIGS, SILENT, ReadingKind, TelemetryConfig, config_for
from scenarios.engines.telemetry.models import TmReading, TmSource
from scenarios.engines.telemetry.service import DeviceRef


def mark_silent(session: Session, *, clock: Clock, limit: int = 500) -> int:
    """Mark up to ``limit`` silent (device, kind) pairs offline; returns how many this call marked."""
    now = clock.now()
    due = (sa.select(TmSource.id).where(TmSource.status == "online", TmSource.silent_at <= now)
           .order_by(TmSource.silent_at).limit(limit).with_for_update(skip_locked=True))
    marked = list(session.scalars(
        sa.update(TmSource).where(TmSource.id.in_(due.scalar_subquery()), TmSource.status == "online",
                                  TmSource.silent_at <= now)
        .values(status="offline", offline_since=now).returning(TmSource.id),
        execution_options={"synchronize_session": False}))
    for source_id in sorted(marked):
        source = session.get(TmSource, source_id, populate_existing=True)
        config = config_for(source.scenario)
        spec = config.kind(source.kind) if config is not None else None
        if config is not None and spec is not None:
            _went_silent(session, clock=clock, config=config, spec=spec, source=source)
    return len(marked)


def _went_silent(session: Session, *, clock: Clock, config: TelemetryConfig, spec: ReadingKind,
                 source: TmSource) -> None:
    subject = config.subject(spec.subject_type).load(session, source.subject_id)
    alerts.open_alert(session, clock=clock, config=config, kind=spec, source=source, rule=SILENT,
                      value=source.latest_value, subject=subject, urgent=spec.silent_urgent)
    if spec.on_offline is not None:
        device = session.get(Device, source.device_id)
        spec.on_offline(session, DeviceRef(device.id, device.uid, device.kind, device.organisation_id), subject)


def apply_retention(session: Session, *, clock: Clock) -> int:
    """Thin and delete readings past retention; returns the rows deleted."""
    now = clock.now()
    table = TmReading.__table__
    later = aliased(TmReading)
    deleted = 0
    for config in CONFIGS.values():
        for spec in config.kinds:
            of_kind = table.c.source_id.in_(sa.select(TmSource.id).where(TmSource.scenario == config.slug,
                                                                          TmSource.kind == spec.name))
            deleted += _purge(session, table, sa.and_(
                of_kind, table.c.at < now - timedelta(days=spec.retention.keep_days)))
            if spec.retention.thin_after_days is None:
                continue
            newer_in_hour = sa.select(later.id).where(later.source_id == table.c.source_id,
                                                      later.hour == table.c.hour, later.at > table.c.at).exists()
            deleted += _purge(session, table, sa.and_(
                of_kind, table.c.at < now - timedelta(days=spec.retention.thin_after_days), newer_in_hour))
    return deleted


@periodic("telemetry_mark_silent", every=timedelta(seconds=15))
def telemetry_mark_silent(session: Session, clock: Clock) -> int:
    """Silent devices are marked offline (their hooks and alerts)."""
    return mark_silent(session, clock=clock)


@periodic("telemetry_retention", every=timedelta(minutes=10))
def telemetry_retention(session: Session, clock: Clock) -> int:
    """Readings past retention are thinned or deleted."""
    return apply_retention(session, clock=clock)
