"""What a booking scenario tells the engine: a frozen ``BookingConfig``.

Everything a scenario may set is a field here (hold time, notice rule, limits, who manages,
what the pass is for); the engine owns state, concurrency, timers and permissions.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from app.scenario import Scenario


def _hours_before(hours: int) -> Callable[[datetime], datetime]:
    def deadline(starts_at: datetime) -> datetime:
        return starts_at - timedelta(hours=hours)

    return deadline


@dataclass(frozen=True)
class BookingConfig:
    slug: str
    title_zh: str
    pass_purpose: str
    """The QR pass purpose of its bookings (``qr.admission``: the scenario's package name)."""
    owner_types: tuple[str, ...]
    """Organisation types whose staff manage resources of this scenario."""
    manager_roles: tuple[str, ...] = ("manager",)
    """Roles of the owning organisation that manage resources and slots."""
    checkin_roles: tuple[str, ...] = ("manager", "staff")
    """Roles of the owning organisation that check people in (devices of it always may)."""
    needs_confirm: bool = False
    """A booking starts as a hold the booker confirms (``hold_minutes``); else it is confirmed at once."""
    hold_minutes: int = 5
    payment_minutes: int = 15
    """A booking of a priced resource is a hold this long while its payment is open (the hold
    itself lasts ``PAYMENT_GRACE`` longer, for a payment notified late)."""
    cancel_deadline: Callable[[datetime], datetime] = field(default=_hours_before(2))
    """The last moment a confirmed booking may be cancelled or moved, from its slot's start."""
    cancel_rule_zh: str = "开始前 2 小时内不能取消或改约"
    max_places: int = 1
    """People one booking admits (a court for four; a class place per person)."""
    per_person_per_day: int = 2
    open_at_once: int = 4
    days_ahead: int = 7
    window_days: int = 14
    """Slots exist this many days ahead (the worker extends the window daily)."""
    no_show_minutes: int = 15
    """Nobody checked in this long after the start: a no-show, and the place is free."""
    early_entry_minutes: int = 30
    """The pass admits from this long before the start to the end."""
    reminder_minutes: int | None = 120
    reminder_at: Callable[[datetime], datetime] | None = None
    """When the reminder goes, from the slot's start (overrides ``reminder_minutes``): "the evening before"."""
    offer_minutes: int = 30
    """A freed place offered to the waitlist is held this long."""
    act_scope: str = "apply"
    """The ``PersonRelation`` scope that lets a booker book for another person."""
    personal_code_entry: bool = True
    """The gate admits by the resident's personal code too (one code for everything)."""
    may_book: Callable[..., None] | None = None
    """``may_book(session, *, clock, booker, person)``: raises an ``ApiError`` to refuse."""
    may_reserve: Callable[..., None] | None = None
    """``may_reserve(session, *, clock, resource, slot)``: raises an ``ApiError`` to refuse a booking
    of this slot (a charging pile its device reports faulty or that is silent)."""
    notify_channel: str = "auto"
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def schema_prefix(self) -> str:
        return "".join(part.capitalize() for part in self.slug.split("-"))

    @property
    def hold(self) -> timedelta:
        return timedelta(minutes=self.hold_minutes)


CONFIGS: dict[str, BookingConfig] = {}


def register(config: BookingConfig) -> BookingConfig:
    existing = CONFIGS.get(config.slug)
    if existing is not None and existing is not config:
        raise ValueError(f"booking scenario {config.slug!r} is registered twice")
    CONFIGS[config.slug] = config
    return config


def install(configs: Iterable[BookingConfig]) -> None:
    """The engine's ``install``: the platform hands it its scenarios' configs at start-up."""
    for config in configs:
        register(config)


def config_for(slug: str) -> BookingConfig | None:
    return CONFIGS.get(slug)


def booking_scenario(config: BookingConfig, *, title_en: str, seed_refs: tuple[str, ...], roles: tuple[str, ...],
                     demo: str | None = None, blueprints: tuple[str, ...] = (), models: tuple[str, ...] = (),
                     jobs: tuple[str, ...] = ()) -> Scenario:
    """The ``Scenario`` of a booking scenario (its passes are checked by the platform's QR layer)."""
    return Scenario(slug=config.slug, title_zh=config.title_zh, title_en=title_en, seed_refs=seed_refs,
                    engines=("booking", "qr"), roles=roles, models=models, jobs=jobs, demo=demo,
                    blueprints=blueprints, config=config)
