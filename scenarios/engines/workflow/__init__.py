"""The workflow engine: tickets with a state machine, SLA timers and escalation.

Scenarios configure it with a ``WorkflowConfig`` (config.py) and mount ``make_blueprint``
(routes.py). Tables: models.py; state machine: transitions.py; due times: sla.py; policies:
policies.py; the service functions: service.py; timer handlers: escalation.py.
"""
