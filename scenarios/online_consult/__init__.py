"""online-consult (互联网医院 复诊续方, L11): a real-name verified patient with a prior visit on
record at a hospital (the booking engine's record of the person) asks that hospital's
department for a follow-up consultation — symptoms, the prescription to renew, photos; a
doctor answers within 2 working hours; the exchange is the ticket's thread; the doctor renews
(structured items within each medicine's limits, as data) or asks the patient to come in; a
renewal is a single-use QR pass of purpose ``prescription`` a pharmacy scanner verifies once.

The scenario's own: the medicines' limits (catalogue.py), who may ask and where it goes
(policy.py), the request's encrypted health data and the renewal (models.py), the decisions
(service.py, served by the engine's action view) and the patient's prescription (routes.py).
"""
from __future__ import annotations

from scenarios.engines.workflow.actions import STAFF, Action
from scenarios.engines.workflow.config import SlaDefault, WorkflowConfig, workflow_scenario
from scenarios.online_consult import service
from scenarios.online_consult.policy import locate, on_filed
from scenarios.online_consult.schemas import OcComeInSchema, OcFilingSchema, OcRenewSchema

ACTIONS = (
    Action("renew", "renew", OcRenewSchema, service.renew, STAFF,
           "A doctor of the hospital renews the prescription: items (medicine, dose, quantity, days) within each "
           "medicine's limits (`unknown_medicine`, `renewal_beyond_limit`); a single-use pass of purpose "
           "`prescription` for the pharmacy; resolved. Once (`consult_decided`)."),
    Action("come-in", "come_in", OcComeInSchema, service.come_in, STAFF,
           "A doctor asks the patient to come to the clinic (a note); resolved. Once (`consult_decided`)."),
)

CONFIG = WorkflowConfig(
    slug="online-consult",
    title_zh="互联网医院复诊续方",
    number_prefix="FZ",
    categories=("复诊续方",),
    locate=locate,
    on_filed=on_filed,
    location_schema=OcFilingSchema,
    text_max=100,
    max_photos=6,
    default_sla=SlaDefault(120, 480, "business"),  # a doctor answers within 2 working hours
    transitions=service.TABLE,
    actions=ACTIONS,
    dispatcher_roles=service.DISPATCHERS,
    handler_roles=service.DOCTORS,
    assignee_roles=service.DOCTORS,
    manager_roles=service.DISPATCHERS,
    supervisor_roles=("supervisor",),
    duplicate_radius_m=0,
)

SCENARIO = workflow_scenario(
    CONFIG,
    title_en="Online follow-up consultations and prescription renewals",
    seed_refs=("L11",),
    roles=("resident", "hospital:doctor", "hospital:admin", "hospital:department_head",
           "community_health_centre:doctor", "community_health_centre:admin", "device:scanner"),
    models=("scenarios.online_consult.models",),
    jobs=("scenarios.online_consult.jobs",),
    blueprints=("scenarios.online_consult.routes:blueprints",),
    console=("scenarios.online_consult.console:blueprints",),
    demo="scenarios.online_consult.demo:load",
    personal_data="scenarios.online_consult.personal_data:PERSONAL_DATA",
)
