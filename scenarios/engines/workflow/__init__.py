"""The workflow engine: tickets with a state machine, SLA timers and escalation.

Scenarios configure it with a ``WorkflowConfig`` and declare themselves with
``workflow_scenario`` (config.py). Tables: models.py; state machine: transitions.py; due
times: sla.py; policies: policies.py; the service functions: service.py; timer handlers:
escalation.py; the HTTP API, built from a table of actions: actions.py and routes.py (engine-wide
endpoints: engine_routes.py).

``ENGINE`` is what the platform loads for it (by name: importing this package loads nothing
else of the engine).
"""
from __future__ import annotations

from app.scenario import Engine

ENGINE = Engine(
    name="workflow",
    personal_data="scenarios.engines.workflow.personal_data:PERSONAL_DATA",
    models=("scenarios.engines.workflow.models",),
    jobs=(
        "scenarios.engines.workflow.escalation",  # timer handlers of response and resolution targets
        "scenarios.engines.workflow.moderation",  # its moderation_decided receiver
        "scenarios.engines.workflow.policies",  # its calendar_changed receiver
    ),
    blueprints=("scenarios.engines.workflow.engine_routes:blueprints",),
    scenario_blueprints="scenarios.engines.workflow.routes:scenario_blueprints",
    install="scenarios.engines.workflow.config:install",
    setup="scenarios.engines.workflow.policies:setup",
    console=("scenarios.engines.workflow.console:blueprints",),
)
