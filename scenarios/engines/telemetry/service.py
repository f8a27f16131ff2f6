"""Readings, latest values and alerts: what the routes and the scenarios call.

``report`` stores one reading in the caller's transaction: the value is checked against its
kind (range, future, device kind, the device's subject), the history row is appended once (a
duplicate — same device, kind, timestamp — is the same reading), the latest row per (device,
kind) moves forward only by compare-and-set on the timestamp (a late reading never
overwrites a newer one), thresholds open or close alerts once per episode, and the kind's
hooks run. The caller commits.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from auth.models import Device
from auth.principal import Principal
from scenarios.engines.telemetry import alerts, values
from scenarios.engines.telemetry.config import SILENT, ReadingKind, TelemetryConfig
from scenarios.engines.telemetry.models import TmAlert, TmReading, TmSource

TOO_OLD = timedelta(days=366)
"""A reading older than this (or than its kind's retention) is refused: it would be deleted at once."""


@dataclass(frozen=True)
class DeviceRef:
    """The reporting device as the hooks see it."""

    id: int
    uid: str
    kind: str
    organisation_id: int


@dataclass(frozen=True)
class Reading:
    """A reading as the hooks see it: ``latest`` when it became the (device, kind)'s latest."""

    kind: str
    at: datetime
    value: dict[str, Any]
    received_at: datetime
    latest: bool


@dataclass(frozen=True)
class Outcome:
    """What became of one reading: ``stored`` (new history row), ``duplicate`` (the same device,
    kind and timestamp were stored before: nothing changed), ``latest`` (it is now the latest)."""

    kind: str
    at: datetime
    subject_type: str
    subject_id: int
    stored: bool
    duplicate: bool
    latest: bool


@dataclass(frozen=True)
class Latest:
    """A subject's latest value of a kind (the newest of its devices). ``online`` is False when
    that device is silent (offline): show the value as unknown."""

    subject_id: int
    device_id: int
    at: datetime | None
    value: dict[str, Any] | None
    online: bool


def bind(session: Session, *, config: TelemetryConfig, kind: str, device_id: int, subject_id: int,
         clock: Clock) -> TmSource:
    """Make ``device_id`` the reporter of ``kind`` about ``subject_id`` (one subject per device
    and kind; binding again moves it). Refused: an unknown kind (422
    ``telemetry_unknown_kind``), a device of another kind (403 ``telemetry_wrong_device_kind``),
    an unknown device or subject (404 ``not_found``), a subject of another organisation (403
    ``telemetry_not_your_subject``). Returns the (device, kind) row."""
    spec = _kind(config, kind)
    device = session.get(Device, device_id)
    if device is None:
        raise ApiError("not_found", errors={"device_id": ["没有这个设备。"]})
    if device.kind not in spec.device_kinds:
        raise ApiError("telemetry_wrong_device_kind", errors={"device_id": [f"须为 {', '.join(spec.device_kinds)}。"]})
    subject_type = config.subject(spec.subject_type)
    subject = subject_type.load(session, subject_id)
    if subject is None:
        raise ApiError("not_found", errors={"subject_id": ["没有这个对象。"]})
    if subject_type.organisation_of is not None and subject_type.organisation_of(subject) != device.organisation_id:
        raise ApiError("telemetry_not_your_subject", errors={"subject_id": ["该对象不属于设备所属的组织。"]})
    now = clock.now()
    source = session.scalar(sa.select(TmSource).where(TmSource.device_id == device_id, TmSource.kind == kind,
                                                      TmSource.scenario == config.slug))
    if source is None:
        source = TmSource(scenario=config.slug, kind=kind, device_id=device_id, status="online")
        session.add(source)
    elif (source.subject_type, source.subject_id) != (spec.subject_type, subject_id):
        source.latest_at = source.latest_value = None  # another subject's value is not this one's
    source.organisation_id = device.organisation_id
    source.subject_type, source.subject_id = spec.subject_type, subject_id
    source.bound_at = source.heard_at = now
    source.silent_at = now + spec.silent_after if spec.silent_after is not None else None
    session.flush()
    return source


def unbind(session: Session, *, config: TelemetryConfig, kind: str, device_id: int) -> None:
    """The device no longer reports ``kind``: the (device, kind) row, its history and its alerts go."""
    source_id = session.scalar(sa.select(TmSource.id).where(TmSource.device_id == device_id, TmSource.kind == kind,
                                                            TmSource.scenario == config.slug))
    if source_id is None:
        return
    for table in (TmAlert, TmReading):
        session.execute(sa.delete(table).where(table.source_id == source_id))
    session.execute(sa.delete(TmSource).where(TmSource.id == source_id))


def _kind(config: TelemetryConfig, name: Any, field: str = "kind") -> ReadingKind:
    spec = config.kind(name) if isinstance(name, str) else None
    if spec is None:
        raise ApiError("telemetry_unknown_kind", errors={field: [f"可选：{', '.join(k.name for k in config.kinds)}。"]})
    return spec


def device_ref(device: Principal) -> DeviceRef:
    if not device.is_device or device.device_id is None:
        raise ApiError("forbidden")
    return DeviceRef(device.device_id, device.device_uid or "", device.device_kind or "", device.org_id or 0)


@dataclass(frozen=True)
class _Item:
    """A reading checked and ready to apply."""

    spec: ReadingKind
    source: TmSource
    at: datetime
    value: dict[str, Any]
    stored: dict[str, Any]
    subject: Any


def _source(session: Session, config: TelemetryConfig, ref: DeviceRef, spec: ReadingKind, prefix: str) -> TmSource:
    if ref.kind not in spec.device_kinds:
        raise ApiError("telemetry_wrong_device_kind",
                       errors={f"{prefix}kind": [f"须为 {', '.join(spec.device_kinds)} 设备。"]})
    source = session.scalar(sa.select(TmSource).where(TmSource.device_id == ref.id, TmSource.kind == spec.name,
                                                      TmSource.scenario == config.slug))
    if source is None:
        raise ApiError("telemetry_not_bound", errors={f"{prefix}kind": ["该设备未绑定上报对象。"]})
    if source.organisation_id != ref.organisation_id:
        raise ApiError("telemetry_not_your_subject", errors={f"{prefix}subject_id": ["该设备不上报此对象。"]})
    return source


def _at(config: TelemetryConfig, spec: ReadingKind, at: datetime | None, now: datetime, prefix: str) -> datetime:
    if at is None:
        return now
    if not isinstance(at, datetime) or at.tzinfo is None:
        raise ApiError("validation_error", errors={f"{prefix}at": ["须为带时区的时间。"]})
    at = at.astimezone(UTC)
    if at > now + config.clock_skew:
        raise ApiError("reading_from_future", errors={f"{prefix}at": ["读数时间晚于当前时间。"]})
    if at < now - min(TOO_OLD, timedelta(days=spec.retention.keep_days)):
        raise ApiError("reading_out_of_range", errors={f"{prefix}at": ["读数时间早于保留期限。"]})
    return at


def _check(session: Session, *, config: TelemetryConfig, ref: DeviceRef, now: datetime, kind: Any,
           value: Any, at: datetime | None, subject_id: Any, prefix: str,
           sources: dict[str, TmSource]) -> _Item:
    spec = _kind(config, kind, f"{prefix}kind")
    source = sources.get(spec.name)
    if source is None:
        source = sources[spec.name] = _source(session, config, ref, spec, prefix)
    if subject_id is not None and (isinstance(subject_id, bool) or subject_id != source.subject_id):
        raise ApiError("telemetry_not_your_subject", errors={f"{prefix}subject_id": ["该设备不上报此对象。"]})
    when = _at(config, spec, at, now, prefix)
    subject = None
    if values.needs_subject(spec):
        subject = config.subject(spec.subject_type).load(session, source.subject_id)
        if subject is None:
            raise ApiError("telemetry_not_bound", errors={f"{prefix}subject_id": ["上报对象已不存在。"]})
    checked, stored = values.check(spec, value, subject, prefix=prefix)
    return _Item(spec, source, when, checked, stored, subject)


@cache
def _insert(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = TmReading.__table__
    return insert(table).on_conflict_do_nothing(index_elements=["source_id", "at"]).returning(table.c.id)


def _hour(at: datetime) -> int:
    return int(at.timestamp()) // 3600


def _heard(spec: ReadingKind, now: datetime) -> dict[str, Any]:
    return {"heard_at": now, "silent_at": now + spec.silent_after if spec.silent_after is not None else None}


def _touch(session: Session, source_id: int, heard: dict[str, Any]) -> str | None:
    """Record that the source was heard; its status as it is now (RETURNING reads the row after
    a concurrent silence mark committed: that reading then brings it back online)."""
    return session.scalar(sa.update(TmSource).where(TmSource.id == source_id).values(**heard)
                          .returning(TmSource.status), execution_options={"synchronize_session": False})


def _apply(session: Session, *, clock: Clock, config: TelemetryConfig, ref: DeviceRef, item: _Item,
           now: datetime) -> Outcome:
    source, spec = item.source, item.spec
    new_id = session.scalar(_insert(session.get_bind().dialect.name), {
        "source_id": source.id, "at": item.at, "hour": _hour(item.at), "value": item.stored, "received_at": now})
    heard = _heard(spec, now)
    if new_id is None:  # the same reading again (a retry): the device is alive all the same
        if _touch(session, source.id, heard) == "offline":
            _back_online(session, clock=clock, config=config, ref=ref, item=item)
        return Outcome(spec.name, item.at, source.subject_type, source.subject_id, False, True, False)
    status = session.scalar(
        sa.update(TmSource).where(TmSource.id == source.id,
                                  sa.or_(TmSource.latest_at.is_(None), TmSource.latest_at < item.at))
        .values(latest_at=item.at, latest_value=item.stored, **heard).returning(TmSource.status),
        execution_options={"synchronize_session": False})
    latest = status is not None
    if not latest:
        status = _touch(session, source.id, heard)
    if status == "offline":
        _back_online(session, clock=clock, config=config, ref=ref, item=item)
    if latest:
        alerts.apply_thresholds(session, clock=clock, config=config, kind=spec, source=source, value=item.value,
                                stored=item.stored, subject=item.subject)
    if spec.on_reading is not None:
        spec.on_reading(session, ref, item.subject, Reading(spec.name, item.at, item.value, now, latest))
    return Outcome(spec.name, item.at, source.subject_type, source.subject_id, True, False, latest)


def _back_online(session: Session, *, clock: Clock, config: TelemetryConfig, ref: DeviceRef, item: _Item) -> None:
    """The first reading after silence: online again by compare-and-set (the hook runs once)."""
    back = session.execute(sa.update(TmSource).where(TmSource.id == item.source.id, TmSource.status == "offline")
                           .values(status="online", offline_since=None),
                           execution_options={"synchronize_session": False}).rowcount == 1
    item.source.status = "online"
    if not back:
        return
    alerts.close_alert(session, clock=clock, config=config, kind=item.spec, source=item.source, rule=SILENT,
                       subject=item.subject)
    if item.spec.on_back_online is not None:
        item.spec.on_back_online(session, ref, item.subject)


def report(session: Session, *, clock: Clock, config: TelemetryConfig, device: Principal, kind: str,
           value: Mapping[str, Any], at: datetime | None = None, subject_id: int | None = None) -> Outcome:
    """One reading by ``device`` (a device principal); ``at`` defaults to now (with an offset);
    ``subject_id`` defaults to the bound subject and, when given, must be it. Refused with
    ``telemetry_unknown_kind``, ``telemetry_wrong_device_kind``, ``telemetry_not_bound``,
    ``telemetry_not_your_subject``, ``reading_out_of_range`` / ``validation_error`` (the field
    at fault, as ``value.<field>``), ``reading_from_future``."""
    ref = device_ref(device)
    now = clock.now()
    item = _check(session, config=config, ref=ref, now=now, kind=kind, value=value, at=at, subject_id=subject_id,
                  prefix="", sources={})
    return _apply(session, clock=clock, config=config, ref=ref, item=item, now=now)


def report_batch(session: Session, *, clock: Clock, config: TelemetryConfig, device: Principal,
                 readings: Sequence[Mapping[str, Any]]) -> list[Outcome]:
    """Several readings (each ``{kind, at, value, subject_id?}``), at most ``config.max_batch``
    (422 ``telemetry_batch_too_large``). All or nothing: one bad reading refuses the batch with
    its index in the field (``readings.3.value.level``). Applied in timestamp order; the
    outcomes come back in the order given."""
    ref = device_ref(device)
    if len(readings) > config.max_batch:
        raise ApiError("telemetry_batch_too_large", errors={"readings": [f"每批最多 {config.max_batch} 条。"]})
    now = clock.now()
    sources: dict[str, TmSource] = {}
    items = [_check(session, config=config, ref=ref, now=now, kind=r.get("kind"), value=r.get("value"),
                    at=r.get("at"), subject_id=r.get("subject_id"), prefix=f"readings.{i}.", sources=sources)
             for i, r in enumerate(readings)]
    order = sorted(range(len(items)), key=lambda i: items[i].at)
    outcomes: dict[int, Outcome] = {}
    for i in order:
        outcomes[i] = _apply(session, clock=clock, config=config, ref=ref, item=items[i], now=now)
    return [outcomes[i] for i in range(len(items))]


def latest_for(session: Session, *, config: TelemetryConfig, kind: str, subject_ids: Iterable[int] | None = None,
               organisation_id: int | None = None) -> dict[int, Latest]:
    """Each subject's latest value of ``kind`` (``subject_ids`` or all; only ``organisation_id``'s
    when given): of its devices, the newest reading. Subjects no device reports on are absent."""
    stmt = sa.select(TmSource).where(TmSource.scenario == config.slug, TmSource.kind == kind)
    if subject_ids is not None:
        stmt = stmt.where(TmSource.subject_id.in_(list(subject_ids)))
    if organisation_id is not None:
        stmt = stmt.where(TmSource.organisation_id == organisation_id)
    found: dict[int, Latest] = {}
    for source in session.scalars(stmt.order_by(TmSource.id)):
        now = Latest(source.subject_id, source.device_id, source.latest_at, source.latest_value,
                     source.status == "online")
        old = found.get(source.subject_id)
        if old is None or (now.at is not None and (old.at is None or now.at > old.at)):
            found[source.subject_id] = now
    return found


def history(session: Session, *, config: TelemetryConfig, kind: str, subject_ids: Iterable[int], since: datetime,
            until: datetime) -> list[tuple[int, datetime, dict[str, Any]]]:
    """The readings of ``kind`` about ``subject_ids`` with ``since`` ≤ at < ``until`` (as
    retention left them: hourly once thinned), as ``(subject_id, at, value)`` in time order: for
    a scenario's own figures (a car park's daily peak), without reading the engine's tables."""
    ids = list(subject_ids)
    if not ids:
        return []
    stmt = (sa.select(TmSource.subject_id, TmReading.at, TmReading.value)
            .join(TmReading, TmReading.source_id == TmSource.id)
            .where(TmSource.scenario == config.slug, TmSource.kind == kind, TmSource.subject_id.in_(ids),
                   TmReading.at >= since, TmReading.at < until)
            .order_by(TmReading.at, TmReading.id))
    return [tuple(row) for row in session.execute(stmt)]  # type: ignore[misc]


def open_alerts(session: Session, *, config: TelemetryConfig, organisation_id: int | None = None,
                subject_ids: Iterable[int] | None = None, rule: str | None = None) -> list[TmAlert]:
    """The open alerts of the scenario, oldest first."""
    stmt = sa.select(TmAlert).where(TmAlert.scenario == config.slug, TmAlert.closed_at.is_(None))
    if organisation_id is not None:
        stmt = stmt.where(TmAlert.organisation_id == organisation_id)
    if subject_ids is not None:
        stmt = stmt.where(TmAlert.subject_id.in_(list(subject_ids)))
    if rule is not None:
        stmt = stmt.where(TmAlert.rule == rule)
    return list(session.scalars(stmt.order_by(TmAlert.opened_at, TmAlert.id)))
