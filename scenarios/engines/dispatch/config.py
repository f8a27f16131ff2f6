"""A scenario's configuration of the dispatch engine (``DispatchConfig``) and its declaration.

The engine knows no scenario: everything special is here as data or a callable. ``origin``
places a request (the taxi: the requester's pilot community's pick-up point; SOS next: the
caller's home), ``stages`` are the states after acceptance (taxi: arriving, in_trip,
completed; SOS: on_scene, resolved), ``agent_roles`` who serves (taxi drivers; call-centre
operators, who have no positions and are offered by availability alone: ``positions=False``).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.scenario import Scenario


@dataclass(frozen=True)
class Origin:
    """Where a request is served from, as the scenario's ``origin`` decides it.

    ``area``: the code the figures group by (a community); ``label``: what agents are shown
    (a public pick-up point's name, never a resident's address).
    """

    lat: float
    lon: float
    area: str
    label: str


@dataclass(frozen=True)
class Stage:
    """An agent's step after acceptance: ``action`` moves a job from ``source`` to ``target``.

    ``schema``: the body's fields (stored in the job's ``details``), e.g. a taxi's fare.
    ``stamp``: the job's time column it sets (``arrived_at``, ``started_at``…)."""

    action: str
    source: str
    target: str
    summary: str
    schema: type | None = None
    stamp: str | None = None


@dataclass(frozen=True)
class DispatchConfig:
    slug: str
    title_zh: str
    job_noun: str
    """The path segment of jobs (``rides``): ``/api/v1/<slug>/<job_noun>/<id>``."""
    agent_org_type: str
    agent_roles: tuple[str, ...]
    origin: Callable[..., Origin]
    """``origin(session, *, clock, principal, data) -> Origin``; raises ``ApiError`` to refuse."""
    stages: tuple[Stage, ...]
    request_schema: type
    """The request's own fields; those named in ``private_fields`` are stored encrypted."""
    private_fields: tuple[str, ...] = ()
    positions: bool = True
    agent_org_types: tuple[str, ...] = ()
    """Further kinds of organisation whose staff serve too (elderly-sos's visits: neighbourhood and
    village committees)."""
    offer_timeout: timedelta = timedelta(seconds=20)
    batch_size: int = 1
    radii_m: tuple[int, ...] = (3000, 6000, 10000)
    max_offers: int = 8
    """Offers a job makes in all before it ends unserved."""
    max_rounds: int = 6
    """Rounds (offer timeouts) a job waits in all, with or without candidates, before unserved."""
    position_max_age: timedelta = timedelta(seconds=60)
    position_retention: timedelta = timedelta(days=7)
    requester_cancel_from: tuple[str, ...] = ("requested", "offered", "accepted")
    agent_cancel_from: tuple[str, ...] = ("accepted",)
    overseer_orgs: tuple[str, ...] = ()
    """Organisation codes whose staff see the figures (taxi: 区交通委)."""
    notify_channel: str = "auto"
    urgent_offers: bool = False
    templates: dict[str, str] = field(default_factory=dict)
    """Engine notice → the registry's template name (``offer``, ``accepted``, ``arrived``,
    ``unserved``, ``cancelled``); a notice without one is not sent."""
    agent_details_schema: type | None = None
    """What an agent states when going on duty (a taxi's plate), kept on their row (``details``)."""
    agent_view: Callable[[Session, Any], dict[str, Any]] | None = None
    """Extra fields of an agent as the requester sees it (``(session, agent) -> dict``: a plate)."""
    keep_offers: bool = False
    """Offers stay open for ``offer_lifetime`` whatever the rounds do: a round offers the job
    to agents not offered yet (who came on duty since) without expiring the earlier offers (a
    call centre's alarm: everyone offered may still answer until one does)."""
    offer_lifetime: timedelta | None = None
    """How long an offer stays open when ``keep_offers`` (default: ``offer_timeout``)."""
    on_change: Callable[..., None] | None = None
    """``on_change(session, *, clock, job, action)`` after the engine changed a job (``accept``,
    a stage's action, ``cancel``, ``unserved``), in the same transaction with the job locked:
    what the scenario keeps beside the job follows it (elderly-sos: the alarm)."""

    def __post_init__(self) -> None:
        if not self.radii_m or list(self.radii_m) != sorted(self.radii_m):
            raise ValueError(f"{self.slug}: radii_m must be increasing")
        if self.batch_size < 1 or self.max_offers < 1 or self.max_rounds < 1:
            raise ValueError(f"{self.slug}: batch_size, max_offers and max_rounds must be positive")
        from scenarios.engines.dispatch.states import check_stages

        check_stages(self.stages)

    @property
    def schema_prefix(self) -> str:
        return "".join(part.capitalize() for part in self.slug.split("-"))

    @property
    def serving_org_types(self) -> tuple[str, ...]:
        return (self.agent_org_type, *self.agent_org_types)

    @property
    def active_statuses(self) -> tuple[str, ...]:
        """Accepted and every stage's state before the last: the agent is serving the job."""
        from scenarios.engines.dispatch.states import active_statuses

        return active_statuses(self.stages)


CONFIGS: dict[str, DispatchConfig] = {}


def install(configs: Iterable[DispatchConfig]) -> None:
    """The engine's ``install``: the platform hands it its scenarios' configs at start-up."""
    for config in configs:
        existing = CONFIGS.get(config.slug)
        if existing is not None and existing is not config:
            raise ValueError(f"dispatch scenario {config.slug!r} is registered twice")
        CONFIGS[config.slug] = config


def config_for(slug: str) -> DispatchConfig | None:
    return CONFIGS.get(slug)


def dispatch_scenario(config: DispatchConfig, *, title_en: str, seed_refs: tuple[str, ...],
                      roles: tuple[str, ...], demo: str | None = None, blueprints: tuple[str, ...] = (),
                      models: tuple[str, ...] = (), jobs: tuple[str, ...] = (),
                      personal_data: str | None = None, engines: tuple[str, ...] = ("dispatch",),
                      console: tuple[str, ...] = (), escalation: str | None = None) -> Scenario:
    """The ``Scenario`` of a dispatch scenario, slug and Chinese title taken from ``config``
    (``personal_data``: its part of a person's export, for tables of its own; ``engines``: dispatch
    first, then any other it uses; ``console``: its staff console pages; ``escalation``: its
    changeable escalation chain, ``Scenario.escalation``)."""
    return Scenario(slug=config.slug, title_zh=config.title_zh, title_en=title_en, seed_refs=seed_refs,
                    engines=engines, roles=roles, models=models, jobs=jobs, demo=demo,
                    blueprints=blueprints, config=config, personal_data=personal_data, console=console,
                    escalation=escalation)

__all__ = ["CONFIGS", "DispatchConfig", "Origin", "Stage", "config_for", "dispatch_scenario", "install"]
