"""What a scenario tells the workflow engine about itself, and the registry of those configs.

A scenario builds one ``WorkflowConfig`` and registers it (``register``); the engine's
blueprint factory, timer handlers and admin endpoints look configs up by slug. Everything
scenario-specific — where a ticket is filed and who owns it (``locate``), its categories,
its own ``details`` schema, its roles and default SLA — lives here, never in the engine.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scenarios.engines.workflow.transitions import TransitionTable, default_table

if TYPE_CHECKING:
    import marshmallow as ma

    from auth.organisations import Organisation


@dataclass
class Placement:
    """Where a new ticket is and who owns it, as decided by the scenario."""

    org: Organisation
    community_id: int | None = None
    building_id: int | None = None
    room: str | None = None
    village_id: int | None = None
    house_number: int | None = None
    lat: float | None = None
    lon: float | None = None
    address: str | None = None
    subject_person_id: int | None = None


Locate = Callable[..., Placement]
"""``locate(session, *, clock, principal, data) -> Placement``; raises ``ApiError`` to refuse."""


@dataclass(frozen=True)
class SlaDefault:
    response_minutes: int
    resolution_minutes: int | None = None
    calendar: str = "24x7"
    work_start_minute: int = 9 * 60
    work_end_minute: int = 17 * 60


@dataclass(frozen=True)
class WorkflowConfig:
    slug: str
    title_zh: str
    number_prefix: str
    categories: tuple[str, ...]
    locate: Locate
    location_schema: type[ma.Schema] | None = None
    """Fields the create request carries for ``locate`` (merged into the create schema)."""
    details_schema: type[ma.Schema] | None = None
    text_max: int = 500
    max_photos: int = 9
    default_sla: SlaDefault = SlaDefault(30)
    dispatcher_roles: tuple[str, ...] = ("manager",)
    handler_roles: tuple[str, ...] = ("manager", "staff")
    assignee_roles: tuple[str, ...] = ("staff",)
    manager_roles: tuple[str, ...] = ("manager",)
    """Told of new tickets and of level-1 escalations."""
    supervisor_roles: tuple[str, ...] = ("supervisor",)
    """Members of the owning organisation's supervisor, told of level-2 escalations."""
    transitions: TransitionTable | None = None
    duplicate_radius_m: float = 50.0
    reopen_days: int = 7
    due_soon_minutes: int = 10
    notify_channel: str = "log"
    """Outbox channel of the scenario's notifications (escalations are sent ``urgent``, so a
    channel with a fallback, such as WeChat → SMS, uses it)."""
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def table(self) -> TransitionTable:
        if self.transitions is not None:
            return self.transitions
        cached = self.extra.get("_table")
        if cached is None:
            cached = default_table(dispatchers=self.dispatcher_roles, handlers=self.handler_roles)
            self.extra["_table"] = cached
        return cached

    @property
    def schema_prefix(self) -> str:
        return "".join(part.capitalize() for part in self.slug.split("-"))


CONFIGS: dict[str, WorkflowConfig] = {}


def register(config: WorkflowConfig) -> WorkflowConfig:
    existing = CONFIGS.get(config.slug)
    if existing is not None and existing is not config:
        raise ValueError(f"workflow scenario {config.slug!r} is registered twice")
    CONFIGS[config.slug] = config
    return config


def config_for(slug: str) -> WorkflowConfig | None:
    return CONFIGS.get(slug)
