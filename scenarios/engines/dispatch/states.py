"""A job's states as data: the engine's own, then the scenario's stages after acceptance.

    requested ─offer→ offered ─accept→ accepted ─<stage>→ … ─<last stage>→ <final>
        │  └──────────── no answer, no more rounds ─────────→ unserved
        └──────── cancel (requester; agent after accepting) ─→ cancelled

``requested``: waiting for a candidate (none was free: the next round retries); ``offered``:
offers are pending. A scenario's stages continue from ``accepted`` one after another; the last
stage's target is final. ``unserved`` and ``cancelled`` are final too.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

REQUESTED, OFFERED, ACCEPTED = "requested", "offered", "accepted"
UNSERVED, CANCELLED = "unserved", "cancelled"
WAITING = (REQUESTED, OFFERED)
"""Not yet accepted: the job is looking for an agent."""
OFFER_STATES = ("pending", "accepted", "declined", "expired", "withdrawn")


def check_stages(stages: Iterable[Any]) -> None:
    """Stages form one chain from ``accepted``; raise ``ValueError`` otherwise."""
    at = ACCEPTED
    seen = {REQUESTED, OFFERED, ACCEPTED, UNSERVED, CANCELLED}
    for stage in stages:
        if stage.source != at:
            raise ValueError(f"stage {stage.action!r} starts at {stage.source!r}, not {at!r}")
        if stage.target in seen:
            raise ValueError(f"stage {stage.action!r} goes back to {stage.target!r}")
        seen.add(stage.target)
        at = stage.target
    if at == ACCEPTED:
        raise ValueError("a dispatch scenario needs at least one stage after acceptance")


def active_statuses(stages: tuple[Any, ...]) -> tuple[str, ...]:
    """The states in which an agent serves the job (accepted, and every stage but the final one)."""
    return (ACCEPTED, *(s.target for s in stages[:-1]))


def final_statuses(stages: tuple[Any, ...]) -> tuple[str, ...]:
    return (stages[-1].target, UNSERVED, CANCELLED)


def all_statuses(stages: tuple[Any, ...]) -> tuple[str, ...]:
    return (REQUESTED, OFFERED, ACCEPTED, *(s.target for s in stages), UNSERVED, CANCELLED)
