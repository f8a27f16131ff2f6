"""What a scenario and an engine declare to the platform, by name.

A declaration names the modules the platform must load for it (``models``, ``jobs``: timer
handlers, periodic jobs, signal receivers), its demo data and its blueprints as strings —
``"package.module"`` or ``"package.module:name"`` — and imports none of them. The platform
loads what the registry (``scenarios/registry.py``) names when it builds the application;
nothing is imported for its side effects behind the registry's back.

Roles are ``"<organisation type>:<role>"`` pairs from ``auth.roles``' catalogue, or the
principal kinds ``resident`` and ``device:<kind>`` (a kind of ``auth.models.DEVICE_KINDS``);
an unknown one fails when the declaration is made (at start-up, and in a test).
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from auth.models import DEVICE_KINDS
from auth.roles import ROLE_CATALOGUE

RESIDENT = "resident"


def load(target: str) -> Any:
    """``"package.module"`` → the module; ``"package.module:name"`` → that attribute of it."""
    module, _, name = target.partition(":")
    imported = importlib.import_module(module)
    return getattr(imported, name) if name else imported


def lazy(target: str) -> Callable[..., Any]:
    """``"package.module:name"`` → a function that imports ``name`` when first called and calls it."""
    if ":" not in target:
        raise ValueError(f"lazy({target!r}): name a function as 'module:function'")

    def call(*args: Any, **kwargs: Any) -> Any:
        return load(target)(*args, **kwargs)

    call.__qualname__ = f"lazy({target})"
    return call


def check_role(role: str) -> None:
    """Raise ``ValueError`` unless ``role`` is a known principal kind or catalogued staff role."""
    if role == RESIDENT:
        return
    kind, sep, name = role.partition(":")
    if sep and kind == "device" and name in DEVICE_KINDS:
        return
    if sep and name in ROLE_CATALOGUE.get(kind, ()):
        return
    raise ValueError(f"unknown role {role!r}: use 'resident', 'device:<kind>' or '<organisation type>:<role>' "
                     "from auth/roles.py")


def _names(values: Iterable[str], what: str, owner: str) -> tuple[str, ...]:
    values = tuple(values)
    for value in values:
        if not isinstance(value, str) or not value or value.startswith(".") or " " in value:
            raise ValueError(f"{owner}: {what} must be module names, got {value!r}")
    return values


@dataclass(frozen=True)
class Engine:
    """An engine package's one declaration of what the platform loads for it.

    ``blueprints``: functions ``(settings) -> list[Blueprint]`` of the engine's engine-wide
    endpoints. ``scenario_blueprints``: the function ``(config) -> list[Blueprint]`` that builds a
    scenario's endpoints from its engine config. ``install``: the function ``(configs)`` that
    hands the engine its scenarios' configs at start-up (the engine's handlers look them up).
    ``setup``: the function ``(app)`` that keeps what the engine needs per app (caches).
    ``personal_data``: its ``app.privacy.parts.PersonalData`` (``"module:NAME"``): its part of a
    person's export (PIPL art. 45). ``console``: functions ``() -> list[flask.Blueprint]`` of its
    staff console pages (``app.console``), beside its code (``<engine>/console.py``).
    """

    name: str
    models: tuple[str, ...] = ()
    jobs: tuple[str, ...] = ()
    blueprints: tuple[str, ...] = ()
    scenario_blueprints: str | None = None
    install: str | None = None
    setup: str | None = None
    personal_data: str | None = None
    console: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for what in ("models", "jobs", "blueprints", "console"):
            object.__setattr__(self, what, _names(getattr(self, what), what, f"engine {self.name}"))

    @property
    def modules(self) -> tuple[str, ...]:
        return self.models + self.jobs


@dataclass(frozen=True)
class Scenario:
    """A working scenario: who it is for, which engines serve it, and what to load for it.

    ``config``: the engine's configuration of this scenario (a ``WorkflowConfig``), handed to
    the engine at start-up. ``demo``: ``"module:function(session, clock)"`` of its demo data.
    ``blueprints``: functions ``() -> list[Blueprint]`` of its own endpoints, besides those its
    engine builds from ``config``. ``personal_data``: the ``PersonalData`` of its own tables
    (``"module:NAME"``), its part of a person's export. ``console``: functions
    ``() -> list[flask.Blueprint]`` of its own staff console pages (``app.console``).
    ``escalation``: its ``app.chains.ChainTerms`` (``"module:NAME"``): an escalation chain of its
    own that district administrators may change (a workflow scenario's is its engine's).
    """

    slug: str
    title_zh: str
    title_en: str
    seed_refs: tuple[str, ...]
    engines: tuple[str, ...]
    roles: tuple[str, ...]
    models: tuple[str, ...] = ()
    jobs: tuple[str, ...] = ()
    demo: str | None = None
    blueprints: tuple[str, ...] = ()
    personal_data: str | None = None
    console: tuple[str, ...] = ()
    escalation: str | None = None
    config: Any = field(default=None, compare=False)

    def __post_init__(self) -> None:
        for role in self.roles:
            check_role(role)
        for what in ("models", "jobs", "blueprints", "console"):
            object.__setattr__(self, what, _names(getattr(self, what), what, self.slug))
        if self.demo is not None and ":" not in self.demo:
            raise ValueError(f"{self.slug}: demo names a function, 'module:function'")

    @property
    def package(self) -> str:
        return self.slug.replace("-", "_")

    @property
    def base_path(self) -> str:
        return f"/api/v1/{self.slug}"

    @property
    def modules(self) -> tuple[str, ...]:
        return self.models + self.jobs

    def describe(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "title_zh": self.title_zh,
            "title_en": self.title_en,
            "seed_refs": list(self.seed_refs),
            "engines": list(self.engines),
            "roles": list(self.roles),
            "base_path": self.base_path,
        }
