"""``gunicorn tests.support.telemetry_wsgi:app``: the real application with the telemetry
engine's test scenario (``tm-test``) mounted and its tanks 1–``TANK_COUNT`` known, so the bench
measures a device's ``PUT /devices/me/state`` (``BENCH_APP=tests.support.telemetry_wsgi:app``)
before any scenario of the engine exists."""
from __future__ import annotations

from app import create_app
from tests.engines.telemetry.scenario import SCENARIO, TANKS, Tank

TANK_COUNT = 150


def tanks(organisation_id: int = 0) -> None:
    """The bench's tanks (capacity 1,000 l); the owner matters only when a device is bound."""
    TANKS.update({i: Tank(i, organisation_id, 1000.0) for i in range(1, TANK_COUNT + 1)})


tanks()
app = create_app(extra_scenarios=(SCENARIO,))
