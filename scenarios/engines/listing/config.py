"""What a listing scenario tells the engine: a frozen ``ListingConfig``.

The engine owns states, moderation, search and permissions; the scenario says which
categories exist, what its ``details`` hold (a marshmallow schema), who moderates an entry
(``moderator_for``) and who may create one (``may_create``).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from app.scenario import Scenario


@dataclass(frozen=True)
class ListingConfig:
    slug: str
    title_zh: str
    categories: tuple[str, ...]
    moderator_for: Callable[..., int]
    """``moderator_for(session, *, principal, data) -> organisation id``: the organisation that
    moderates a new entry (raises an ``ApiError`` to refuse the entry)."""
    details_schema: type | None = None
    """A marshmallow schema class validating ``details`` (its errors come back as ``details.<field>``)."""
    moderator_roles: tuple[str, ...] = ("manager",)
    """Roles of the moderating organisation that publish and reject."""
    price_required: bool = False
    """Entries carry a positive price in fen (a rent)."""
    may_create: Callable[..., None] | None = None
    """``may_create(session, *, principal, data)``: raises an ``ApiError`` to refuse."""
    max_photos: int = 9
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def schema_prefix(self) -> str:
        return "".join(part.capitalize() for part in self.slug.split("-"))


CONFIGS: dict[str, ListingConfig] = {}


def register(config: ListingConfig) -> ListingConfig:
    existing = CONFIGS.get(config.slug)
    if existing is not None and existing is not config:
        raise ValueError(f"listing scenario {config.slug!r} is registered twice")
    CONFIGS[config.slug] = config
    return config


def install(configs: Iterable[ListingConfig]) -> None:
    """The engine's ``install``: the platform hands it its scenarios' configs at start-up."""
    for config in configs:
        register(config)


def config_for(slug: str) -> ListingConfig | None:
    return CONFIGS.get(slug)


def listing_scenario(config: ListingConfig, *, title_en: str, seed_refs: tuple[str, ...], roles: tuple[str, ...],
                     engines: tuple[str, ...] = ("listing",), demo: str | None = None,
                     blueprints: tuple[str, ...] = (), models: tuple[str, ...] = (),
                     jobs: tuple[str, ...] = (), personal_data: str | None = None,
                     console: tuple[str, ...] = ()) -> Scenario:
    """The ``Scenario`` of a listing scenario (``personal_data``: its part of a person's export,
    for tables of its own; ``console``: its staff console pages)."""
    return Scenario(slug=config.slug, title_zh=config.title_zh, title_en=title_en, seed_refs=seed_refs,
                    engines=engines, roles=roles, models=models, jobs=jobs, demo=demo,
                    blueprints=blueprints, config=config, personal_data=personal_data, console=console)
