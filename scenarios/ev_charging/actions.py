"""ev-charging's actions as data, each served by one generic view (routes.py).

``SESSION_ACTIONS``: ``POST /sessions/<id>/<path>`` on a visible session (404 first), the
service ``service(session, *, clock, principal, charging, **arguments)``. ``DEVICE_ACTIONS``:
``POST /device/sessions/<path>`` by the pile's own device (``device:charger``), the service
``service(session, *, clock, principal, **arguments)``. Both return the session.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scenarios.ev_charging import sessions
from scenarios.ev_charging.schemas import EvDeviceStartSchema, EvDeviceStopSchema, EvEmptySchema


@dataclass(frozen=True)
class Action:
    path: str
    schema: type
    service: Callable[..., Any]
    status: int
    summary: str
    errors: dict[int, str]


SESSION_ACTIONS: tuple[Action, ...] = (
    Action("stop", EvEmptySchema, sessions.stop, 200,
           "Stop your session (the energy the pile last reported counts); the fee is charged through the ledger "
           "(`payment_id`) and you are told. Staff of the operator see the session but may not stop it (403).",
           {409: "`session_not_active` (already stopped)"}),
)

DEVICE_ACTIONS: tuple[Action, ...] = (
    Action("start", EvDeviceStartSchema, sessions.start_by_device, 201,
           "The pile's device: the car of the reservation in its arrival window plugged in; the session starts "
           "for the person who reserved and the reservation is used.",
           {409: "`no_reservation_now`, `pile_in_use`, `pile_faulty`, `pile_offline`",
            422: "`reading_from_future`"}),
    Action("stop", EvDeviceStopSchema, sessions.stop_by_device, 200,
           "The pile's device ends its session with the energy delivered (kWh): the fee is charged.",
           {409: "`session_not_started` (no session open on this pile)",
            422: "`energy_negative`, `energy_decreasing`, `reading_from_future`"}),
)
