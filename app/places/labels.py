"""How lists name the places and organisations their rows point at: an organisation's code and
name, a community's code and name, a building's number, a village's code and name, by id.

Lists (a queue of 20 tickets, a page of bookings) show these for every row. They are reference
data that changes almost never, so each process keeps what it has read for
``PLACES_CACHE_SECONDS`` (30 by default, 0 — always read — under ``APP_ENV=test``), as the
community directory does, and reads only the ids it lacks, one query per kind. A rename made
by another process shows within that many seconds. It is a cache of the database, never a
source of truth: nothing decides anything from it.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.orm import Session

from app.places.models import Building, Community, Village
from auth.organisations import Organisation

KINDS: dict[str, tuple[Any, tuple[Any, ...]]] = {
    "org": (Organisation, (Organisation.code, Organisation.name)),
    "community": (Community, (Community.code, Community.name)),
    "building": (Building, (Building.number,)),
    "village": (Village, (Village.code, Village.name)),
}
EXTENSION = "place_labels"


class Labels:
    def __init__(self, ttl: float = 0.0) -> None:
        self.ttl = ttl
        self._entries: dict[tuple[str, int], tuple[tuple[Any, ...], float]] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, kind: str, ids: Iterable[int | None]) -> dict[int, tuple[Any, ...]]:
        """id → (code, name) (a building: (number,)) for the ids that exist; None ids left out."""
        wanted = {i for i in ids if i is not None}
        if not wanted:
            return {}
        now = time.monotonic()
        found: dict[int, tuple[Any, ...]] = {}
        if self.ttl > 0:
            for i in wanted:
                entry = self._entries.get((kind, i))
                if entry is not None and now - entry[1] < self.ttl:
                    found[i] = entry[0]
        missing = wanted - found.keys()
        if missing:
            model, columns = KINDS[kind]
            rows = session.execute(sa.select(model.id, *columns).where(model.id.in_(missing))).all()
            fresh = {row[0]: tuple(row[1:]) for row in rows}
            found.update(fresh)
            if self.ttl > 0:
                with self._lock:
                    if len(self._entries) > 50_000:
                        self._entries.clear()
                    self._entries.update({(kind, i): (v, now) for i, v in fresh.items()})
        return found


def labels() -> Labels:
    """The current app's labels (no cache outside an app)."""
    if has_app_context():
        found = current_app.extensions.get(EXTENSION)
        if found is not None:
            return found
    return Labels(0.0)


def install(app: Any, ttl: float) -> None:
    app.extensions[EXTENSION] = Labels(ttl)
