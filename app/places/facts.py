"""Facts about a village that scenarios contribute, for whoever summarises the village.

A scenario that keeps something per village (rural-rental: its houses and tenants) registers a
provider here; a scenario that shows a village (smart-village's hall screen) asks for every
provider's facts. Neither imports the other nor reads the other's tables: scenarios stay
independent, and a summary simply lacks a section whose scenario is not installed.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

Provider = Callable[..., dict[str, Any]]
"""``provider(session, *, village, today) -> dict`` (JSON-able)."""

_PROVIDERS: dict[str, Provider] = {}


def provide(name: str, provider: Provider) -> None:
    """Register ``provider`` under ``name`` (the summary's key); registering it again is harmless."""
    existing = _PROVIDERS.get(name)
    if existing is not None and getattr(existing, "__qualname__", None) != getattr(provider, "__qualname__", None):
        raise ValueError(f"village facts {name!r} are provided twice")
    _PROVIDERS[name] = provider


def village_facts(session: Session, *, village: Any, today: date) -> dict[str, dict[str, Any]]:
    """Each registered provider's facts about ``village``, by name."""
    return {name: provider(session, village=village, today=today) for name, provider in sorted(_PROVIDERS.items())}
