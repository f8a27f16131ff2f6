"""elderly-sos (高龄独居老人应急呼叫, L36): people aged 80 or over with 本市户籍 who live alone,
enrolled by their committee or 区民政局, raise an alarm with their app's button, a relative's,
or a pull cord or wearable of the call centre. Every on-duty operator is offered it at once (the
dispatch engine, batch mode, agents without positions: ``operator`` of the ``call_centre``);
one acknowledges within 60 seconds (``POST /calls/<id>/accept``: one wins, the others 409), or
the escalation chain (``policy.CHAIN``, data) starts: other operators → the emergency
contacts by SMS and WeChat → the committee → the supervisor with the instruction to call 120,
repeated until someone acts. After the acknowledgement the nearest responders of the committee
(on duty with a fresh position, ``visit.py``; else the whole committee) are offered the visit;
arrival within 30 minutes, or the chain runs again. An alarm closes only with an
outcome. A registered device silent for its hours raises an ``inactivity`` alarm.

Its tables: models.py; enrolment: enrolment.py; alarms: alarms.py; the chain: chain.py; who
sees what: access.py; answers: views.py; endpoints: routes.py; inactivity: inactivity.py.
"""
from __future__ import annotations

from app.errors import ApiError
from scenarios.elderly_sos.policy import ACK_LIMIT, OFFER_LIFETIME
from scenarios.elderly_sos.schemas import SosEmptySchema
from scenarios.engines.dispatch.config import DispatchConfig, Stage, dispatch_scenario

SLUG = "elderly-sos"


def _origin(session, *, clock, principal, data):
    """The engine's ``POST /calls`` is not how an alarm is raised."""
    raise ApiError("sos_use_alarms")


def _on_change(session, *, clock, job, action):
    from scenarios.elderly_sos.alarms import on_job_change

    on_job_change(session, clock=clock, job=job, action=action)


CONFIG = DispatchConfig(
    slug=SLUG,
    title_zh="高龄老人应急呼叫",
    job_noun="calls",
    agent_org_type="call_centre",
    agent_roles=("operator",),
    origin=_origin,
    request_schema=SosEmptySchema,
    stages=(Stage("hand-over", "accepted", "handed_over",
                  "The operator has answered: the call leaves their desk (the alarm goes on: visit, outcome). "
                  "Closing the alarm hands the call over too."),),
    positions=False,
    batch_size=500,
    offer_timeout=ACK_LIMIT,
    keep_offers=True,
    offer_lifetime=OFFER_LIFETIME,
    max_offers=100_000,
    max_rounds=100_000,
    requester_cancel_from=(),
    agent_cancel_from=(),
    overseer_orgs=("310116-sos-call-centre", "310116-bureau-civil-affairs"),
    notify_channel="auto",
    urgent_offers=True,
    templates={"offer": "sos_offer"},
    on_change=_on_change,
)

SCENARIO = dispatch_scenario(
    CONFIG,
    title_en="Elderly emergency call",
    seed_refs=("L36",),
    roles=("resident", "device:sensor", "call_centre:operator", "call_centre:manager",
           "neighbourhood_committee:committee", "neighbourhood_committee:grid_worker", "village_committee:committee",
           "village_committee:grid_worker",
           "neighbourhood_committee:volunteer", "village_committee:volunteer",
           "bureau:supervisor", "bureau:staff"),
    models=("scenarios.elderly_sos.models",),
    demo="scenarios.elderly_sos.demo:load",
    jobs=("scenarios.elderly_sos.chain", "scenarios.elderly_sos.contacts", "scenarios.elderly_sos.inactivity",
          "scenarios.elderly_sos.visit"),
    blueprints=("scenarios.elderly_sos.routes:blueprints",),
    console=("scenarios.elderly_sos.console:blueprints",),
    personal_data="scenarios.elderly_sos.personal_data:PERSONAL_DATA",
    escalation="scenarios.elderly_sos.policy:TERMS",
    engines=("dispatch", "telemetry"),
)
