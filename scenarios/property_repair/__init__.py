"""物业百事通报修 (L19): residents report repairs with one tap; the property company managing
the community must respond within 30 minutes, overdue tickets escalate to 区房管局.

Only what is its own lives here: categories, the rule of who may report where and who owns
the ticket (policy.py), its details and location fields (schemas.py), its SLA default and
roles, and demo data (demo.py). Everything else is the workflow engine.
"""
from __future__ import annotations

from scenarios.engines.workflow.config import SlaDefault, WorkflowConfig, workflow_scenario
from scenarios.property_repair.policy import locate
from scenarios.property_repair.schemas import PropertyRepairDetailsSchema, PropertyRepairLocationSchema

CATEGORIES = ("水电", "门窗", "电梯", "公共设施", "管道疏通", "其他")

CONFIG = WorkflowConfig(
    slug="property-repair",
    title_zh="物业百事通报修",
    number_prefix="BX",
    categories=CATEGORIES,
    locate=locate,
    location_schema=PropertyRepairLocationSchema,
    details_schema=PropertyRepairDetailsSchema,
    text_max=500,
    default_sla=SlaDefault(response_minutes=30, resolution_minutes=24 * 60, calendar="24x7"),
    # Property companies have managers and technicians; a town housing office (the fallback
    # owner of unmanaged estates) has managers and staff.
    dispatcher_roles=("manager",),
    handler_roles=("manager", "technician", "staff"),
    assignee_roles=("technician", "staff"),
    manager_roles=("manager",),
    supervisor_roles=("supervisor",),
    urgent_new_tickets=True,  # 30 minutes to answer: an SMS follows when WeCom cannot reach a manager
)

SCENARIO = workflow_scenario(
    CONFIG,
    title_en="Property repair",
    seed_refs=("L19",),
    roles=("resident", "property_company:manager", "property_company:technician", "housing_office:manager",
           "housing_office:staff", "bureau:supervisor"),
    demo="scenarios.property_repair.demo:load",
)
