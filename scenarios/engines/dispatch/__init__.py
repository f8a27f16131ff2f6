"""The dispatch engine: agents with live positions and availability; a job offers itself to the
nearest available agents, a batch at a time, each offer with a timeout held as a timer; no
answer → the next batch or a wider radius, up to a limit, then the job ends unserved. Accepting
is a compare-and-set decided in the database: one agent wins, the others get 409
``already_taken``.

Scenarios (taxi now, the elderly SOS line next) configure it with a ``DispatchConfig`` and
declare themselves with ``dispatch_scenario`` (config.py). Tables: models.py; the states and
the scenario's stages as data: states.py; agents, duty and positions: agents.py; the search
for the nearest (Redis GEOSEARCH, else the database): nearby.py; offers and their rounds:
offers.py; the job's service functions: service.py; who sees a job: access.py; the HTTP API
built from a table of actions: actions.py and routes.py; figures: stats.py; retention of
position history: retention.py.

``ENGINE`` is what the platform loads for it (importing this package loads nothing else).
"""
from __future__ import annotations

from app.scenario import Engine

ENGINE = Engine(
    name="dispatch",
    personal_data="scenarios.engines.dispatch.personal_data:PERSONAL_DATA",
    models=("scenarios.engines.dispatch.models",),
    jobs=(
        "scenarios.engines.dispatch.offers",  # the offer timeout's timer handler
        "scenarios.engines.dispatch.retention",  # purge of position history, erasure
    ),
    scenario_blueprints="scenarios.engines.dispatch.routes:scenario_blueprints",
    install="scenarios.engines.dispatch.config:install",
    setup="scenarios.engines.dispatch.nearby:setup",
)
