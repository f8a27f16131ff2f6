"""智慧路长 (L25): road issues and complaints from residents and from road chiefs on patrol,
filed with 区交通委 and assigned to the road's chief, who sees and handles the reports on
their roads; public road information (closures, works, detours) from 区交通委.

The scenario's own: categories, the roads and their chiefs (models.py, roads.py), the rule
of which road a report is about and who gets it (policy.py), road notices (notices.py,
routes.py), its SLA and roles, demo data (demo.py). The workflow engine does the rest:
routing to the chief, scoped visibility (``road_chief`` sees only what is assigned to them),
staff reporters, the SLA clock, escalation, notifications, ratings, ``/api/v1/me/tickets``.

SLA: 24/7 (a pothole or a missing manhole cover is dangerous at night too): first response
within **2 hours**, resolution within **3 days**.
"""
from __future__ import annotations

from scenarios.engines.workflow.config import SlaDefault, WorkflowConfig, workflow_scenario
from scenarios.road_report.policy import CATEGORIES, locate, route
from scenarios.road_report.schemas import RoadReportDetailsSchema, RoadReportLocationSchema

CONFIG = WorkflowConfig(
    slug="road-report",
    title_zh="智慧路长",
    number_prefix="LZ",
    categories=CATEGORIES,
    locate=locate,
    route=route,
    location_schema=RoadReportLocationSchema,
    details_schema=RoadReportDetailsSchema,
    text_max=500,
    default_sla=SlaDefault(response_minutes=120, resolution_minutes=3 * 24 * 60, calendar="24x7"),
    dispatcher_roles=("supervisor", "staff"),
    handler_roles=("supervisor", "staff", "road_chief"),
    assignee_roles=("road_chief", "staff"),
    manager_roles=("supervisor",),
    supervisor_roles=("supervisor",),
    scoped_roles=("road_chief",),
    staff_reporter_roles=("road_chief",),
    duplicate_radius_m=30,
)

SCENARIO = workflow_scenario(
    CONFIG,
    title_en="Road reports and road chiefs",
    seed_refs=("L25",),
    roles=("resident", "bureau:road_chief", "town:road_chief", "bureau:supervisor", "bureau:staff"),
    models=("scenarios.road_report.models",),
    blueprints=("scenarios.road_report.routes:blueprints",),
    console=("scenarios.road_report.console:blueprints",),
    demo="scenarios.road_report.demo:load",
)
