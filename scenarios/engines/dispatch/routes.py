"""HTTP API of a dispatch scenario under ``/api/v1/<slug>``, built from the engine's table of
actions (actions.py): requesting and reading jobs (``/<jobs>``, the scenario's noun: rides),
one generic view per action row (``POST /<jobs>/<id>/<action>``), and the agents' endpoints
(``/agents/me``, its duty, position and offers), the organisation's agents, the figures.

Writing views build their answer, then commit (as the workflow engine's do: no transaction
stays open after the commit).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.views import MethodView

from app.api import Blueprint, ErrorSchema, fields, paginate
from app.context import current_clock
from app.db import get_session
from app.errors import ApiError
from app.idempotency import idempotent
from auth.principal import current_principal, require_auth, require_resident, require_staff
from auth.visibility import load_visible, visible_object
from scenarios.engines.dispatch import agents as agent_svc
from scenarios.engines.dispatch import service as svc
from scenarios.engines.dispatch.access import register_object_type, relation
from scenarios.engines.dispatch.actions import AGENT, EITHER, REQUESTER, Action, actions
from scenarios.engines.dispatch.config import DispatchConfig
from scenarios.engines.dispatch.models import SUBJECT, DispatchJob
from scenarios.engines.dispatch.presenters import agent_state, job_view, offer_view
from scenarios.engines.dispatch.schemas import (
    DispatchAgentStateSchema,
    DispatchDutySchema,
    DispatchJobListArgs,
    DispatchJobPageSchema,
    DispatchJobSchema,
    DispatchOfferListSchema,
    DispatchPositionSchema,
    DispatchStaffAgentListSchema,
    DispatchStatsArgs,
    DispatchStatsSchema,
)
from scenarios.engines.dispatch.stats import stats as compute_stats

GUARDS: dict[str, Callable] = {AGENT: require_staff, REQUESTER: require_resident, EITHER: require_auth}


def _err(blp: Blueprint, status: int, description: str) -> Callable:
    return blp.alt_response(status, schema=ErrorSchema, description=description)


def show(session, config: DispatchConfig, job: DispatchJob) -> dict[str, Any]:
    """The job as the caller sees it now."""
    principal = current_principal()
    how = relation(session, principal, job) if job.scenario == config.slug else None
    if how is None:  # not theirs, or another scenario's id
        raise ApiError("not_found")
    agent = agent_svc.agent_of(session, config, principal)
    return job_view(session, config, job, how, now=current_clock().now(), agent_id=agent.id if agent else None)


def make_blueprint(config: DispatchConfig) -> Blueprint:
    register_object_type()
    slug, noun = config.slug, config.job_noun
    blp = Blueprint(f"{slug}-dispatch", __name__, url_prefix=f"/api/v1/{slug}",
                    description=f"{config.title_zh} ({slug}), on the dispatch engine.")

    @blp.route(f"/{noun}")
    class Jobs(MethodView):
        @idempotent
        @require_resident
        @blp.arguments(config.request_schema)
        @blp.response(201, DispatchJobSchema)
        @_err(blp, 409, "`job_active`: you have one in progress already")
        @_err(blp, 422, "`outside_service_area`, `validation_error`")
        def post(self, args):
            """Request with one tap (send an `Idempotency-Key`): the nearest available agent is offered it
            at once, then the next when they do not answer in time."""
            session = get_session()
            job = svc.request_job(session, clock=current_clock(), principal=current_principal(), config=config,
                                  data=args)
            answer = show(session, config, job)
            session.commit()
            return answer, 201

        @require_auth
        @blp.arguments(DispatchJobListArgs, location="query")
        @blp.response(200, DispatchJobPageSchema)
        def get(self, args):
            """Residents: their own; agents: the jobs they served; an agents' organisation's staff: their
            agents' jobs; the district: all. Newest first."""
            session = get_session()
            stmt = svc.jobs_query(session, principal=current_principal(), config=config, status=args.pop("status"))
            page = paginate(session, stmt, args)
            page["items"] = [show(session, config, job) for job in page["items"]]
            return page

    @blp.route(f"/{noun}/<int:job_id>")
    class JobItem(MethodView):
        @visible_object(SUBJECT, "job_id")
        @require_auth
        @blp.response(200, DispatchJobSchema)
        @_err(blp, 404, "Not yours, not offered to you, not your agents'")
        def get(self, job_id: int):
            """The job as you may see it (the agent's position only while it is active, coarsened)."""
            session = get_session()
            return show(session, config, load_visible(session, current_principal(), SUBJECT, job_id))

    for action in actions(config):
        _action_view(blp, config, action)

    agent_routes(blp, config)

    @blp.route("/agents/me/offers")
    class Offers(MethodView):
        @require_staff
        @blp.response(200, DispatchOfferListSchema)
        def get(self):
            """Your open offers (poll every few seconds; WeCom tells you too), soonest to expire first."""
            rows = svc.pending_offers(get_session(), clock=current_clock(), principal=current_principal(),
                                      config=config)
            return {"items": [offer_view(o, j) for o, j in rows]}

    @blp.route("/agents")
    class Agents(MethodView):
        @require_staff
        @blp.response(200, DispatchStaffAgentListSchema)
        def get(self):
            """Your organisation's agents (its managers and staff): on duty, serving, last seen. No positions."""
            rows = agent_svc.org_agents(get_session(), principal=current_principal(), config=config)
            return {"items": [{"agent_id": a.id, "username": username, "name": name, "on_duty": a.on_duty,
                               "job_id": a.job_id, "position_at": a.position_at, "outside_area": a.outside_area,
                               "details": a.details or {}} for a, username, name in rows]}

    @blp.route("/stats")
    class Stats(MethodView):
        @require_staff
        @blp.arguments(DispatchStatsArgs, location="query")
        @blp.response(200, DispatchStatsSchema)
        def get(self, args):
            """Per area and day: requests, served (accepted), served share, median wait to acceptance and to
            pick-up. The scenario's overseers and the district."""
            return {"items": compute_stats(get_session(), principal=current_principal(), config=config, **args)}

    return blp


def agent_routes(blp: Blueprint, config: DispatchConfig, prefix: str = "/agents") -> None:
    """An agent's own endpoints under ``prefix``: their state, duty and position. A scenario with a
    second pool of agents (elderly-sos's visiting responders) mounts them again on its blueprint."""

    @blp.route(f"{prefix}/me")
    class Me(MethodView):
        @require_staff
        @blp.response(200, DispatchAgentStateSchema)
        def get(self):
            """Your state as an agent: on duty, serving, available."""
            principal = current_principal()
            if not agent_svc.is_agent_principal(principal, config):
                raise ApiError("not_an_agent")
            agent = agent_svc.agent_of(get_session(), config, principal)
            return agent_state(agent, config, current_clock().now())

    duty_schema = DispatchDutySchema
    if config.agent_details_schema is not None:
        duty_schema = type(f"{config.schema_prefix}DutySchema", (DispatchDutySchema,), {
            "details": fields.Nested(config.agent_details_schema, load_default=None, metadata={
                "description": "when going on duty: what you serve with (kept until you state it again)"})})

    @blp.route(f"{prefix}/me/duty")
    class Duty(MethodView):
        @require_staff
        @blp.arguments(duty_schema)
        @blp.response(200, DispatchAgentStateSchema)
        @_err(blp, 409, "`agent_busy`: finish or cancel your job first")
        def put(self, args):
            """Go on or off duty (off duty forgets your latest position)."""
            session = get_session()
            agent = agent_svc.set_duty(session, clock=current_clock(), principal=current_principal(), config=config,
                                       on_duty=args["on_duty"], details=args.get("details"))
            answer = agent_state(agent, config, current_clock().now())
            session.commit()
            return answer

    @blp.route(f"{prefix}/me/position")
    class Position(MethodView):
        @require_staff
        @blp.arguments(DispatchPositionSchema)
        @blp.response(200, DispatchAgentStateSchema)
        @_err(blp, 409, "`agent_off_duty`")
        @_err(blp, 422, "`position_in_future`, `validation_error`")
        def put(self, args):
            """Report your position every few seconds (WGS84, as `wx.getLocation` gives it). Outside
            Jinshan it is kept and you get no new offers until you are back."""
            session = get_session()
            clock = current_clock()
            agent = agent_svc.report_position(session, clock=clock, principal=current_principal(), config=config,
                                              lat=args["lat"], lon=args["lon"], at=args["at"])
            answer = agent_state(agent, config, clock.now())
            session.commit()
            return answer


def _action_view(blp: Blueprint, config: DispatchConfig, action: Action) -> None:
    """``POST /<jobs>/<id>/<path>``: the action's service on the job, then the job as the caller sees it."""

    def post(self, args, job_id: int):
        session = get_session()
        job = action.service(session, clock=current_clock(), principal=current_principal(), config=config,
                             job_id=job_id, **args)
        answer = show(session, config, job)
        session.commit()
        return answer

    post.__doc__ = action.summary
    decorated = _err(blp, 409, "`already_taken`, `offer_expired`, `offer_not_pending`, `agent_off_duty`, "
                               "`agent_busy`, `invalid_transition` (body names `current_status`)")(post)
    decorated = _err(blp, 404, "Not visible to you")(decorated)
    decorated = blp.response(200, DispatchJobSchema)(decorated)
    decorated = blp.arguments(action.schema)(decorated)
    decorated = GUARDS[action.callers](decorated)
    decorated = visible_object(SUBJECT, "job_id")(decorated)
    decorated = idempotent(decorated)
    view = type(f"{config.schema_prefix}{action.endpoint.capitalize()}View", (MethodView,), {"post": decorated})
    blp.route(f"/{config.job_noun}/<int:job_id>/{action.path}", endpoint=action.endpoint)(view)


def scenario_blueprints(config: DispatchConfig) -> list[Blueprint]:
    """The engine's ``scenario_blueprints``: a scenario's endpoints."""
    return [make_blueprint(config)]


__all__ = ["agent_routes", "make_blueprint", "scenario_blueprints"]
