"""The telemetry engine: devices (identity's devices, ``device:<kind>`` of an organisation)
report readings of a kind about a subject (a scenario's object: ``("parking_lot", 12)``); the
engine keeps the latest value per (device, kind), appends history, raises alerts once per
episode (thresholds, silence) through the outbox and thins or deletes old readings. It knows
no scenario.

How a scenario uses it
----------------------
1. Declare a frozen ``TelemetryConfig`` (config.py): its slug, the ``SubjectType``s its devices
   report on (how to load a subject by id and which organisation owns it), and its
   ``ReadingKind``s: the value's ``Field``s (int/float/str/enum/bool with bounds; a bound may be
   a callable of the subject, e.g. occupancy ≤ the lot's capacity), the device kinds allowed,
   ``silent_after`` (then the device is offline and a ``silent`` alert opens), ``Retention``,
   ``Threshold``s, and hooks run in the reading's transaction: ``on_reading(session, device,
   subject, reading)``, ``on_offline(session, device, subject)``, ``on_back_online(session,
   device, subject)``, ``alert_recipients(session, alert, subject)`` (extra recipients).
2. Register it: telemetry as the scenario's first engine (``telemetry_scenario(config, ...)``),
   or, as a second engine, ``register(config)`` at import and mount
   ``routes.make_blueprint(config)`` among the scenario's blueprints (as rural-rental does with
   the approval engine). Name ``"telemetry"`` in the scenario's ``engines``.
3. Bind each device to its subject: ``service.bind(session, config=..., kind=..., device_id=...,
   subject_id=...)`` (demo data, the scenario's admin route). One (device, kind) reports on one
   subject; a reading about another subject is refused.
4. Devices report over HTTP (``/api/v1/<slug>/devices/me/state`` and ``/devices/me/readings``)
   or the scenario calls ``service.report(...)`` / ``service.report_batch(...)`` from its own
   route (parking's ``PUT /lots/{id}/occupancy``). Staff of the owning organisation read
   ``latest``, a time range and the alerts; a scenario reads ``service.latest_for(...)`` (its
   ``online`` is False for a silent device: show "unknown", not the last value).
5. The worker's periodic jobs (jobs.py) mark silent devices offline (exactly once with any
   number of workers) and apply retention.

Tables: models.py; the scenario's side: config.py; readings, latest, alerts: service.py;
the periodic jobs: jobs.py; the HTTP API as a table of routes: actions.py, routes.py.
"""
from __future__ import annotations

from app.scenario import Engine

ENGINE = Engine(
    name="telemetry",
    models=("scenarios.engines.telemetry.models",),
    jobs=("scenarios.engines.telemetry.jobs",),
    scenario_blueprints="scenarios.engines.telemetry.routes:scenario_blueprints",
    install="scenarios.engines.telemetry.config:install",
)
