"""12345 市民服务热线工单 (G12): call-takers of the district's hotline office file a work order
for a caller; it is routed to the bureau or town in charge, which may send it back once
(退单); a reply to the caller comes before closing; the caller's verdict is recorded and 不满意
reopens it once; the office sees each department's monthly figures.

The scenario's own: the catalogue and time limits as data (catalogue.py: per category and
urgency, on the business calendar with 调休 or round the clock when urgent), where an order
is filed and goes, the caller's encrypted phone (policy.py, models.py), its actions
(service.py: send-back, reply, satisfaction, served by the engine's action view), figures
and the caller view (figures.py, routes.py). The engine does the rest.
"""
from __future__ import annotations

from scenarios.engines.workflow.actions import STAFF, Action
from scenarios.engines.workflow.config import WorkflowConfig, workflow_scenario
from scenarios.hotline_12345 import service
from scenarios.hotline_12345.catalogue import CATEGORIES, LIMITS, NORMAL, sla_key
from scenarios.hotline_12345.policy import locate, on_filed, route
from scenarios.hotline_12345.schemas import (
    HotlineDetailsSchema,
    HotlineFilingSchema,
    HotlineReplySchema,
    HotlineSatisfactionSchema,
    HotlineSendBackSchema,
)

ACTIONS = (
    Action("send-back", "send_back", HotlineSendBackSchema, service.send_back, STAFF,
           "退单: the department sends the order back to the hotline office with a reason, once "
           "(`already_sent_back` the second time); the office re-routes it.", lets_go=True),
    Action("reply", "reply", HotlineReplySchema, service.reply, STAFF,
           "The reply to the caller (content, channel, time): needed before closing (`reply_required`).",
           shown=service.offer_reply),
    Action("satisfaction", "satisfaction", HotlineSatisfactionSchema, service.satisfaction, STAFF,
           "The hotline office records the caller's verdict (满意 / 基本满意 / 不满意, by SMS or call), after "
           "a reply (`reply_required`), once a round (`satisfaction_recorded`); 不满意 reopens the order "
           "once, otherwise a resolved order is closed.", shown=service.offer_satisfaction),
)

CONFIG = WorkflowConfig(
    slug="hotline-12345",
    title_zh="12345市民服务热线",
    number_prefix="RX",
    categories=CATEGORIES,
    locate=locate,
    route=route,
    on_filed=on_filed,
    location_schema=HotlineFilingSchema,
    details_schema=HotlineDetailsSchema,
    text_max=1000,
    default_sla=NORMAL,
    sla_key=sla_key,
    sla_defaults=LIMITS,
    transitions=service.TABLE,
    guards={"close": service.require_reply, "confirm": service.require_reply},
    actions=ACTIONS,
    dispatcher_roles=("supervisor", "admin", *service.OFFICE_ROLES),
    handler_roles=service.DEPARTMENT_ROLES,
    assignee_roles=("staff",),
    manager_roles=("supervisor", "admin", "manager"),
    supervisor_roles=("supervisor",),
    transfer_org_types=("bureau", "town", "subdistrict", "industrial_zone"),
    staff_reporter_roles=("call_taker",),
    duplicate_radius_m=0,
)

SCENARIO = workflow_scenario(
    CONFIG,
    title_en="12345 citizen hotline work orders",
    seed_refs=("G12",),
    roles=("call_centre:call_taker", "call_centre:manager", "bureau:supervisor", "bureau:staff", "town:admin",
           "town:staff"),
    models=("scenarios.hotline_12345.models",),
    blueprints=("scenarios.hotline_12345.routes:blueprints",),
    console=("scenarios.hotline_12345.console:blueprints",),
    demo="scenarios.hotline_12345.demo:load",
    personal_data="scenarios.hotline_12345.personal_data:PERSONAL_DATA",
)
