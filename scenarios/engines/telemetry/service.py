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
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.clock import Clock
from auth.principal import Principal
from scenarios.engines.telemetry.config import TelemetryConfig


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
         clock: Clock) -> Any:
    """Make ``device_id`` the reporter of ``kind`` about ``subject_id`` (one subject per device
    and kind; binding again moves it). Refused: an unknown kind (422
    ``telemetry_unknown_kind``), a device of another kind (422 ``telemetry_wrong_device_kind``),
    an unknown subject (404 ``not_found``), a subject of another organisation (403
    ``telemetry_not_your_subject``). Returns the (device, kind) row (``TmSource``)."""
    raise NotImplementedError


def unbind(session: Session, *, config: TelemetryConfig, kind: str, device_id: int) -> None:
    """The device no longer reports ``kind`` (its open alerts close; its history stays until retention)."""
    raise NotImplementedError


def report(session: Session, *, clock: Clock, config: TelemetryConfig, device: Principal, kind: str,
           value: Mapping[str, Any], at: datetime | None = None, subject_id: int | None = None) -> Outcome:
    """One reading by ``device`` (a device principal); ``at`` defaults to now (with an offset);
    ``subject_id`` defaults to the bound subject and, when given, must be it. Refused with
    ``telemetry_unknown_kind``, ``telemetry_wrong_device_kind``, ``telemetry_not_bound``,
    ``telemetry_not_your_subject``, ``reading_out_of_range`` / ``validation_error`` (the field
    at fault, as ``value.<field>``), ``reading_from_future``."""
    raise NotImplementedError


def report_batch(session: Session, *, clock: Clock, config: TelemetryConfig, device: Principal,
                 readings: Sequence[Mapping[str, Any]]) -> list[Outcome]:
    """Several readings (each ``{kind, at, value, subject_id?}``), at most ``config.max_batch``
    (422 ``telemetry_batch_too_large``). All or nothing: one bad reading refuses the batch with
    its index in the field (``readings.3.value.level``). Applied in timestamp order."""
    raise NotImplementedError


def latest_for(session: Session, *, config: TelemetryConfig, kind: str, subject_ids: Iterable[int] | None = None,
               organisation_id: int | None = None) -> dict[int, Latest]:
    """Each subject's latest value of ``kind`` (``subject_ids`` or all; only ``organisation_id``'s
    when given). Subjects no device reports on are absent."""
    raise NotImplementedError


def open_alerts(session: Session, *, config: TelemetryConfig, organisation_id: int | None = None,
                subject_ids: Iterable[int] | None = None, rule: str | None = None) -> list[Any]:
    """The open alerts (``TmAlert`` rows) of the scenario, oldest first."""
    raise NotImplementedError
