"""ev-charging on the telemetry engine: what a pile's device reports and what follows.

- ``charger_status`` ``{status: free | charging | fault}`` at least every 30 s: mirrored on the
  pile (``status``, ``status_at``) in the reading's transaction. The first ``fault`` of an episode
  withdraws the pile's reservations (their people told, ``booking_cancelled`` with the reason)
  and ends a session in progress with the energy delivered so far; an alert ``fault`` goes to the
  operator's managers. Silent for ``SILENT_AFTER``: offline (the engine's worker marks it and
  alerts; the nearby search already shows it ``offline`` from the reading's age).
- ``charger_energy`` ``{energy_kwh}``: the energy delivered in the session so far (sessions.py).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.clock import Clock
from scenarios.engines.booking import external
from scenarios.engines.telemetry.config import (
    Field,
    ReadingKind,
    Retention,
    SubjectType,
    TelemetryConfig,
    Threshold,
    register,
)
from scenarios.ev_charging import sessions
from scenarios.ev_charging.models import SILENT_AFTER, EvPile

STATUS, ENERGY = "charger_status", "charger_energy"
FAULT_REASON = "充电桩故障"


def _load(session: Session, pile_id: int) -> EvPile | None:
    return session.get(EvPile, pile_id)


def _on_status(session: Session, device: Any, pile: EvPile, reading: Any) -> None:
    if not reading.latest:
        return  # a late reading is history; the pile shows the newer one
    was = pile.status if pile.status_at is not None else None
    pile.status, pile.status_at = reading.value["status"], reading.at
    session.flush()
    if pile.status == "fault" and was != "fault":
        on_fault(session, pile, clock=_At(reading.received_at))


class _At:
    """The engine's clock as the reading saw it (hooks get the reading, not the clock)."""

    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now


def on_fault(session: Session, pile: EvPile, *, clock: Clock) -> None:
    """Withdraw the pile's reservations and end its session: their people are told."""
    from scenarios.ev_charging import CONFIG

    external.withdraw(session, CONFIG, sessions.pile_resource(session, pile), clock=clock, reason=FAULT_REASON)
    sessions.stop_for_fault(session, pile, clock=clock)


def _on_offline(session: Session, device: Any, pile: EvPile) -> None:
    pile.status = "offline"
    session.flush()


def _on_energy(session: Session, device: Any, pile: EvPile, reading: Any) -> None:
    sessions.on_energy_reading(session, device, pile, reading)


TELEMETRY = register(TelemetryConfig(
    slug="ev-charging",
    title_zh="公共充电桩",
    subjects=(SubjectType("ev_pile", load=_load, organisation_of=lambda pile: pile.operator_org_id),),
    kinds=(
        ReadingKind(STATUS, "ev_pile", fields=(Field("status", "enum", choices=("free", "charging", "fault")),),
                    device_kinds=("charger",), silent_after=SILENT_AFTER,
                    retention=Retention(keep_days=90, thin_after_days=7), on_reading=_on_status,
                    thresholds=(Threshold("fault", when=lambda value, pile: value.get("status") == "fault"),),
                    on_offline=_on_offline),
        ReadingKind(ENERGY, "ev_pile", fields=(Field("energy_kwh", "float", maximum=sessions.MAX_SESSION_KWH),),
                    device_kinds=("charger",), silent_after=None, retention=Retention(keep_days=90),
                    on_reading=_on_energy),
    ),
    staff_roles=("manager", "staff"),
    alert_roles=("manager",),
))
