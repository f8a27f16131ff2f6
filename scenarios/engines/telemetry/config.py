"""What a telemetry scenario tells the engine: a frozen ``TelemetryConfig``.

A reading's value is a JSON object whose fields the kind declares (``Field``); bounds may be
numbers or callables of the subject (``maximum=lambda lot: lot.capacity``). Thresholds are
data (``field`` with ``above``/``below``) or a callable ``when(value, subject) -> bool``; an
alert is open while its condition holds and closes when it stops (one alert per episode).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from app.scenario import Scenario

FIELD_TYPES = ("int", "float", "str", "enum", "bool")

Bound = float | int | Callable[[Any], float | int | None] | None
"""A number, or ``bound(subject) -> number | None`` (None: unbounded)."""


@dataclass(frozen=True)
class Field:
    """One field of a reading's value."""

    name: str
    type: str = "int"
    """One of ``FIELD_TYPES``."""
    minimum: Bound = None
    maximum: Bound = None
    choices: tuple[str, ...] = ()
    """``enum``: the allowed values."""
    pattern: str | None = None
    """``str``: a regular expression the whole value must match (e.g. a plate)."""
    max_length: int = 64
    required: bool = True
    personal: bool = False
    """Personal data (a plate): checked and handed to the hooks, never stored, shown or logged by
    the engine (the scenario keeps it encrypted in its own tables)."""

    def __post_init__(self) -> None:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"field {self.name!r}: type must be one of {FIELD_TYPES}")
        if self.type == "enum" and not self.choices:
            raise ValueError(f"field {self.name!r}: an enum names its choices")


@dataclass(frozen=True)
class Threshold:
    """An alert condition on a reading: ``field`` above/below a number, or ``when(value,
    subject) -> bool``. ``name`` is the alert's rule (``level_high``)."""

    name: str
    field: str | None = None
    above: float | None = None
    below: float | None = None
    when: Callable[[dict[str, Any], Any], bool] | None = None
    urgent: bool = False

    def __post_init__(self) -> None:
        if self.when is None and (self.field is None or (self.above is None and self.below is None)):
            raise ValueError(f"threshold {self.name!r}: give field with above/below, or when")
        if self.name == SILENT:
            raise ValueError(f"threshold name {SILENT!r} is the engine's silence alert")


SILENT = "silent"
"""The rule of the alert a silent device raises."""


@dataclass(frozen=True)
class Retention:
    """Raw readings are kept ``thin_after_days`` days, then thinned to the last reading of each
    hour, and deleted after ``keep_days`` (``thin_after_days=None``: never thinned)."""

    keep_days: int = 30
    thin_after_days: int | None = None

    def __post_init__(self) -> None:
        if self.keep_days < 1 or (self.thin_after_days is not None
                                  and not 0 < self.thin_after_days < self.keep_days):
            raise ValueError("retention: keep_days ≥ 1 and 0 < thin_after_days < keep_days")


@dataclass(frozen=True)
class SubjectType:
    """A scenario object devices report on: ``load(session, subject_id) -> object | None`` and
    ``organisation_of(subject) -> organisation id`` (a device of another organisation may not be
    bound to it; None: any)."""

    name: str
    load: Callable[..., Any]
    organisation_of: Callable[[Any], int] | None = None


@dataclass(frozen=True)
class ReadingKind:
    name: str
    subject_type: str
    fields: tuple[Field, ...]
    device_kinds: tuple[str, ...] = ("sensor",)
    """Identity's device kinds (``auth.models.DEVICE_KINDS``) that may report this kind."""
    silent_after: timedelta | None = timedelta(minutes=5)
    """No reading for this long: the device is offline (an alert); None: never."""
    retention: Retention = Retention()
    thresholds: tuple[Threshold, ...] = ()
    on_reading: Callable[..., None] | None = None
    """``on_reading(session, device, subject, reading)`` in the reading's transaction, for every
    new reading (``reading.latest``: it became the latest value)."""
    on_offline: Callable[..., None] | None = None
    """``on_offline(session, device, subject)`` once when the device is marked offline."""
    on_back_online: Callable[..., None] | None = None
    """``on_back_online(session, device, subject)`` once, with the first reading after it."""
    silent_urgent: bool = False
    """The silence alert is urgent (falls back to SMS when the channel fails)."""
    alert_recipients: Callable[..., Iterable[Any]] | None = None
    """``alert_recipients(session, alert, subject) -> Recipient``s (``app.notify.service``) told
    besides the owning organisation's staff in ``TelemetryConfig.alert_roles``."""


@dataclass(frozen=True)
class TelemetryConfig:
    slug: str
    title_zh: str
    subjects: tuple[SubjectType, ...]
    kinds: tuple[ReadingKind, ...]
    staff_roles: tuple[str, ...] = ("manager",)
    """Roles of the owning organisation that read latest values, history and alerts."""
    alert_roles: tuple[str, ...] = ("manager",)
    """Roles of the owning organisation told of an alert (the organisation itself if none)."""
    notify_channel: str = "auto"
    max_batch: int = 100
    clock_skew: timedelta = timedelta(seconds=30)
    """A reading's timestamp may be this far ahead of the server's clock."""
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        subjects = {s.name for s in self.subjects}
        names = [k.name for k in self.kinds]
        if len(set(names)) != len(names):
            raise ValueError(f"telemetry {self.slug}: reading kinds named twice")
        for kind in self.kinds:
            if kind.subject_type not in subjects:
                raise ValueError(f"telemetry {self.slug}: kind {kind.name!r} reports on unknown subject "
                                 f"{kind.subject_type!r}")
            fields = {f.name: f for f in kind.fields}
            for threshold in kind.thresholds:
                if threshold.field is not None and (threshold.field not in fields or fields[threshold.field].personal):
                    raise ValueError(f"telemetry {self.slug}: threshold {threshold.name!r} on an unknown or "
                                     "personal field")

    def kind(self, name: str) -> ReadingKind | None:
        return next((k for k in self.kinds if k.name == name), None)

    def subject(self, name: str) -> SubjectType:
        return next(s for s in self.subjects if s.name == name)

    @property
    def schema_prefix(self) -> str:
        return "".join(part.capitalize() for part in self.slug.split("-"))


CONFIGS: dict[str, TelemetryConfig] = {}


def register(config: TelemetryConfig) -> TelemetryConfig:
    """Make a scenario's config known (at import of a scenario using telemetry as a second
    engine; ``install`` does it for a first engine)."""
    existing = CONFIGS.get(config.slug)
    if existing is not None and existing is not config:
        raise ValueError(f"telemetry scenario {config.slug!r} is registered twice")
    CONFIGS[config.slug] = config
    return config


def install(configs: Iterable[TelemetryConfig]) -> None:
    """The engine's ``install``: the platform hands it its scenarios' configs at start-up."""
    for config in configs:
        register(config)


def config_for(slug: str) -> TelemetryConfig | None:
    return CONFIGS.get(slug)


def telemetry_scenario(config: TelemetryConfig, *, title_en: str, seed_refs: tuple[str, ...],
                       roles: tuple[str, ...], engines: tuple[str, ...] = ("telemetry",), demo: str | None = None,
                       blueprints: tuple[str, ...] = (), models: tuple[str, ...] = (),
                       jobs: tuple[str, ...] = (), personal_data: str | None = None) -> Scenario:
    """The ``Scenario`` of a scenario whose first engine is telemetry."""
    return Scenario(slug=config.slug, title_zh=config.title_zh, title_en=title_en, seed_refs=seed_refs,
                    engines=engines, roles=roles, models=models, jobs=jobs, demo=demo,
                    blueprints=blueprints, config=config, personal_data=personal_data)
