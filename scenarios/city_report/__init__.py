"""随申拍 (G12): residents report a city problem with a photo and a point anywhere in Jinshan;
区城运中心 receives it and routes it by category to the bureau or town in charge; the
department answers; the resident rates; everyone sees the hot spots.

The scenario's own: categories and the category → department table, where a report is
filed and where it goes (policy.py), its location fields and the hot-spot figures
(schemas.py, routes.py), its SLA and roles, demo data (demo.py). The workflow engine does
the rest: moderation of text and photos (they feed the public map), routing and transfers,
the SLA clock, escalation, notifications, ratings, ``/api/v1/me/tickets``.

SLA: first response (the department's acknowledgement) within **2 working hours**,
resolution within **5 working days** (40 working hours), on the business calendar
(09:00–17:00 Beijing, Monday–Friday, with holidays and make-up working days 调休): the
departments answering are offices, and a report filed on Saturday is due on Monday. Each
routing or transfer gives the new owner a fresh response target; the resolution target
counts from the report.
"""
from __future__ import annotations

from scenarios.city_report.policy import CATEGORIES, locate, route
from scenarios.city_report.schemas import CityReportLocationSchema
from scenarios.engines.workflow.config import SlaDefault, WorkflowConfig, workflow_scenario

CONFIG = WorkflowConfig(
    slug="city-report",
    title_zh="随申拍",
    number_prefix="SSP",
    categories=CATEGORIES,
    locate=locate,
    route=route,
    location_schema=CityReportLocationSchema,
    text_max=500,
    photos_required=True,
    moderated=True,
    default_sla=SlaDefault(response_minutes=120, resolution_minutes=5 * 8 * 60, calendar="business"),
    # Bureaus have supervisors and staff, towns admins and staff.
    dispatcher_roles=("supervisor", "admin"),
    handler_roles=("supervisor", "admin", "staff"),
    assignee_roles=("staff",),
    manager_roles=("supervisor", "admin"),
    supervisor_roles=("supervisor",),
    transfer_org_types=("bureau", "town", "subdistrict", "industrial_zone"),
    duplicate_radius_m=50,
)

SCENARIO = workflow_scenario(
    CONFIG,
    title_en="City problem reports",
    seed_refs=("G12",),
    roles=("resident", "bureau:supervisor", "bureau:staff", "town:admin", "town:staff"),
    blueprints=("scenarios.city_report.routes:blueprints",),
    console=("scenarios.city_report.console:blueprints",),
    demo="scenarios.city_report.demo:load",
)
