"""The booking engine: resources with opening rules, slots with capacity, holds that expire,
bookings with passes, waitlists.

Scenarios configure it with a ``BookingConfig`` and declare themselves with
``booking_scenario`` (config.py). Tables: models.py; slot generation from opening rules and the
platform calendar: slots.py; the capacity counters, changed only by conditional updates:
capacity.py; the service functions: service.py; passes and check-in: admission.py; timer
handlers and the periodic window extension: jobs.py; the HTTP API as a table of actions:
actions.py and routes.py (engine-wide ``/api/v1/me/bookings``: engine_routes.py).

``ENGINE`` is what the platform loads for it (by name: importing this package loads nothing
else of the engine).
"""
from __future__ import annotations

from app.scenario import Engine

ENGINE = Engine(
    name="booking",
    personal_data="scenarios.engines.booking.personal_data:PERSONAL_DATA",
    models=("scenarios.engines.booking.models",),
    jobs=("scenarios.engines.booking.jobs",),  # hold expiry, no-shows, reminders, the rolling window
    blueprints=("scenarios.engines.booking.engine_routes:blueprints",),
    scenario_blueprints="scenarios.engines.booking.routes:scenario_blueprints",
    install="scenarios.engines.booking.config:install",
    console=("scenarios.engines.booking.console:blueprints",),
)
