"""The follow-up tickets' workflow configuration (kept apart from the package's ``__init__`` so
the service can file tickets without importing the scenario's declaration)."""
from __future__ import annotations

from scenarios.discharge_summary.followups import KINDS
from scenarios.discharge_summary.policy import locate, resolution_due
from scenarios.discharge_summary.schemas import DsFilingSchema
from scenarios.engines.workflow.config import SlaDefault, WorkflowConfig

CONFIG = WorkflowConfig(
    slug="discharge-summary",
    title_zh="出院小结与诊后随访",
    number_prefix="SF",
    categories=tuple(KINDS.values()),
    locate=locate,
    location_schema=DsFilingSchema,
    resolution_due=resolution_due,
    default_sla=SlaDefault(480, None, "business"),  # the team takes it up within a working day
    dispatcher_roles=("department_head", "admin"),
    handler_roles=("department_head", "admin", "followup"),
    assignee_roles=("followup",),
    manager_roles=("department_head",),
    supervisor_roles=("supervisor",),
    staff_reporter_roles=("clerk", "doctor"),
    duplicate_radius_m=0,
)
