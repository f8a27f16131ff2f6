"""The declaration every scenario makes: who it is for and which engine serves it."""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask_smorest import Blueprint
    from sqlalchemy.orm import Session

    from app.clock import Clock

def lazy(target: str) -> Callable[..., Any]:
    """``"package.module:name"`` → a function that imports ``name`` when first called and calls it.

    The registry imports every scenario declaration at start-up; routes and demo data pull in
    engines and models, so a declaration names them instead of importing them.
    """
    module, _, name = target.partition(":")

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__qualname__ = f"lazy({target})"
    return call


ENGINES = frozenset({"workflow", "booking", "dispatch", "listing", "approval", "telemetry", "ledger", "qr"})


@dataclass(frozen=True)
class Scenario:
    slug: str
    title_zh: str
    title_en: str
    seed_refs: tuple[str, ...]
    engines: tuple[str, ...]
    roles: tuple[str, ...]
    blueprints: Callable[[], list[Blueprint]] = field(default=lambda: [], compare=False)
    demo_data: Callable[[Session, Clock], None] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        unknown = set(self.engines) - ENGINES
        if unknown:
            raise ValueError(f"{self.slug}: unknown engines {sorted(unknown)}")

    @property
    def package(self) -> str:
        return self.slug.replace("-", "_")

    @property
    def base_path(self) -> str:
        return f"/api/v1/{self.slug}"

    def describe(self) -> dict:
        return {
            "slug": self.slug,
            "title_zh": self.title_zh,
            "title_en": self.title_en,
            "seed_refs": list(self.seed_refs),
            "engines": list(self.engines),
            "roles": list(self.roles),
            "base_path": self.base_path,
        }
