"""The approval engine: an application with a form validated by the scenario's schema,
eligibility rules that explain a refusal, review by the owning organisation (approve, reject
with reasons, ask for more) with a reviewer deadline on the platform calendar held as a timer,
and a decision history. Family-doctor signing, talent cards, school enrolment and rental
approval (租前审批) configure it; nothing here knows any of them.

Tables: models.py; the scenario's side: config.py; state changes (compare-and-set): service.py;
the deadline's timer handler: jobs.py; the HTTP API as a table of actions: actions.py, routes.py.
"""
from __future__ import annotations

from app.scenario import Engine

ENGINE = Engine(
    name="approval",
    models=("scenarios.engines.approval.models",),
    jobs=("scenarios.engines.approval.jobs",),
    scenario_blueprints="scenarios.engines.approval.routes:scenario_blueprints",
    install="scenarios.engines.approval.config:install",
    personal_data="scenarios.engines.approval.personal_data:PERSONAL_DATA",
)
