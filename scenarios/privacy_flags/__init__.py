"""privacy-flags (issue 22): a resident flags a staff read of their personal data as unexpected
(PIPL art. 44); the flag is a ticket of the district administrators on the workflow engine,
with the audit row attached (when, what was read, by which organisation and role, the stated
reason), a time limit of its own, and the resident told of the outcome (the engine tells the
reporter when it is resolved or rejected).

The platform's own scenario, not one of the mini-program's: its one route of its own is
``POST /api/v1/me/data-access/<audit id>/flag`` (routes.py), beside the platform's
``GET /api/v1/me/data-access``; a flag is filed only there (the engine's filing route refuses:
``policy.locate``). One flag per audit row (``pf_flags``, models.py).
"""
from __future__ import annotations

from scenarios.engines.workflow.config import SlaDefault, WorkflowConfig, workflow_scenario
from scenarios.privacy_flags.policy import CATEGORY, locate

DISTRICT_ROLES = ("admin",)

CONFIG = WorkflowConfig(
    slug="privacy-flags",
    title_zh="个人信息查看异议",
    number_prefix="PF",
    categories=(CATEGORY,),
    locate=locate,
    text_max=500,
    max_photos=0,
    # PIPL art. 50 asks for requests to be handled promptly; GB/T 35273-2020 (8.7) answers a
    # data subject's request within 15 working days: acknowledged within one working day.
    default_sla=SlaDefault(response_minutes=8 * 60, resolution_minutes=15 * 8 * 60, calendar="business"),
    dispatcher_roles=DISTRICT_ROLES,
    handler_roles=DISTRICT_ROLES,
    assignee_roles=DISTRICT_ROLES,
    manager_roles=DISTRICT_ROLES,
    supervisor_roles=(),
    duplicate_radius_m=0,
)

SCENARIO = workflow_scenario(
    CONFIG,
    title_en="Flags on staff reads of personal data",
    seed_refs=(),
    roles=("resident", "district:admin"),
    models=("scenarios.privacy_flags.models",),
    blueprints=("scenarios.privacy_flags.routes:blueprints",),
    demo="scenarios.privacy_flags.demo:load",
)
