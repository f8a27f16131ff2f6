"""The telemetry engine's periodic jobs (run by the worker, ``app.periodic``).

``mark_silent``: a (device, kind) with no reading for longer than its kind's ``silent_after``
is marked offline by compare-and-set (with any number of workers, once), its ``on_offline``
hook runs and a ``silent`` alert opens, in one transaction. ``apply_retention``: readings
past their kind's retention are thinned to hourly or deleted.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from app.clock import Clock


def mark_silent(session: Session, *, clock: Clock, limit: int = 500) -> int:
    """Mark up to ``limit`` silent (device, kind) pairs offline; returns how many this call marked."""
    raise NotImplementedError


def apply_retention(session: Session, *, clock: Clock, limit: int = 5000) -> int:
    """Thin and delete readings past retention (up to ``limit`` rows a call); returns rows deleted."""
    raise NotImplementedError
