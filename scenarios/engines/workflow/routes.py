"""HTTP API of the workflow engine.

``make_blueprint(config)`` builds a scenario's blueprint with fresh view classes, mounted at
``/api/v1/<slug>``: residents create, list, read, comment, confirm, reopen and rate; staff of
the owning organisation work the queue and move tickets along; supervisors see escalated
tickets and figures. ``blueprints(settings)`` gives the engine-wide ones: the caller's
tickets across every workflow scenario (``/api/v1/me/tickets``) and the district's SLA
policies (``/api/v1/admin/sla-policies``, with ``flask sla set-policy``).

Writing views build their answer, then commit: reading after the commit would open a new
write transaction (``BEGIN IMMEDIATE`` on SQLite) that stays open until teardown, while
``idempotent`` stores the response from another connection.

Transitions accept ``If-Match: "<version>"`` (412 when the ticket changed); responses carry
the ticket's version as their ``ETag``.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import click
import sqlalchemy as sa
from flask import current_app, request
from flask.views import MethodView

from app.api import Blueprint, ErrorSchema, paginate
from app.config import Settings
from app.db import get_session
from app.errors import ApiError
from app.idempotency import idempotent
from app.places.service import find_community
from auth.organisations import Organisation
from auth.principal import current_principal, require_auth, require_resident, require_staff
from scenarios.engines.workflow import policies, routing
from scenarios.engines.workflow import service as svc
from scenarios.engines.workflow.config import CONFIGS, WorkflowConfig, config_for
from scenarios.engines.workflow.models import SlaPolicy, Ticket
from scenarios.engines.workflow.presenters import full, summaries
from scenarios.engines.workflow.schemas import (
    SlaPolicyArgsSchema,
    SlaPolicyListSchema,
    SlaPolicyPutSchema,
    SlaPolicySchema,
    WorkflowAssignSchema,
    WorkflowCommentSchema,
    WorkflowDuplicateSchema,
    WorkflowEscalatedArgsSchema,
    WorkflowMineArgsSchema,
    WorkflowNoteSchema,
    WorkflowQueueArgsSchema,
    WorkflowRateSchema,
    WorkflowReasonSchema,
    WorkflowRequiredNoteSchema,
    WorkflowResolveSchema,
    WorkflowStaffListSchema,
    WorkflowStatsArgsSchema,
    WorkflowStatsSchema,
    WorkflowTicketPageSchema,
    WorkflowTransferSchema,
    scenario_schemas,
)
from scenarios.engines.workflow.stats import stats as compute_stats

_IF_MATCH = re.compile(r'^\s*(?:W/)?"(\d{1,10})"\s*$')


def _clock():
    return current_app.extensions["clock"]


def expected_version() -> int | None:
    """The version named by ``If-Match`` (None when absent or ``*``); 412 when unreadable."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    match = _IF_MATCH.match(header)
    if match is None:
        raise ApiError("precondition_failed", errors={"If-Match": ['须为工单的版本号，如 "3"。']})
    return int(match.group(1))


def _etag(ticket: Ticket) -> dict[str, str]:
    return {"ETag": f'"{ticket.version}"'}


def _page(session, stmt, args: dict[str, Any]) -> dict[str, Any]:
    page = paginate(session, stmt, args)
    page["items"] = summaries(session, page["items"], now=_clock().now())
    return page


def _err(blp: Blueprint, status: int, description: str) -> Callable:
    return blp.alt_response(status, schema=ErrorSchema, description=description)


def make_blueprint(config: WorkflowConfig) -> Blueprint:
    """The scenario's ticket endpoints, with fresh view classes and scenario-named schemas."""
    schemas = scenario_schemas(config)
    slug = config.slug
    blp = Blueprint(f"{slug}-tickets", __name__, url_prefix=f"/api/v1/{slug}",
                    description=f"{config.title_zh}: tickets ({slug}), on the workflow engine.")

    def show(ticket: Ticket, access: svc.Access, status: int = 200,
             created: svc.Created | None = None) -> tuple[dict[str, Any], int, dict[str, str]]:
        body = full(get_session(), ticket, access, clock=_clock(), config=config,
                    possible_duplicates=created.possible_duplicates if created else None,
                    events=created.events if created else None, photos=created.photos if created else None)
        return body, status, _etag(ticket)

    create_guard = require_auth if config.staff_reporter_roles else require_resident

    @blp.route("/tickets")
    class Tickets(MethodView):
        @idempotent
        @create_guard
        @blp.arguments(schemas.create)
        @blp.response(201, schemas.created)
        @_err(blp, 403, "`no_residence`: no verified residence where the ticket would be filed; `forbidden`")
        @_err(blp, 422, "`unknown_category`, `text_too_long`, `content_rejected` (moderation), "
                        "`outside_district`, `validation_error` (photos not your own...)")
        def post(self, args):
            """Report a problem (category, text, up to 9 of your own photos): residents (and
            staff in the scenario's reporting roles).

            The answer lists `possible_duplicates`: open tickets of the same building (or within
            a short distance) and category (ids and numbers only). The owning organisation's
            managers are told.
            """
            session = get_session()
            principal = current_principal()
            created = svc.create(session, clock=_clock(), principal=principal, config=config, data=args)
            _, access = svc.get_ticket(session, principal=principal, config=config, ticket_id=created.ticket.id)
            answer = show(created.ticket, access, 201, created)
            session.commit()  # last: no transaction stays open (module docstring)
            return answer

        @require_resident
        @blp.arguments(WorkflowMineArgsSchema, location="query")
        @blp.response(200, WorkflowTicketPageSchema)
        def get(self, args):
            """Your own tickets in this scenario, newest first."""
            stmt = svc.mine(current_principal(), scenario=slug, status=args.get("status"),
                            open_only=args["open"])
            return _page(get_session(), stmt, args)

    @blp.route("/tickets/<int:ticket_id>")
    class TicketItem(MethodView):
        @require_auth
        @blp.response(200, schemas.ticket)
        @_err(blp, 404, "Not yours, not your organisation's, or no such ticket")
        def get(self, ticket_id: int):
            """A ticket with its trail, due times and photos (reporter, owning or supervising staff)."""
            ticket, access = svc.get_ticket(get_session(), principal=current_principal(), config=config,
                                            ticket_id=ticket_id)
            return show(ticket, access)

    def action_view(path: str, name: str, args_schema: type, run: Callable[..., Ticket], doc: str,
                    guard: Callable = require_auth, may_let_go: bool = False) -> None:
        def post(self, args, ticket_id: int):
            session = get_session()
            principal = current_principal()
            ticket = run(session, principal, ticket_id, args)
            try:
                _, access = svc.get_ticket(session, principal=principal, config=config, ticket_id=ticket.id)
            except ApiError:
                if not may_let_go:
                    raise
                access = svc.Access("former", frozenset())  # transferred away: this answer is the last look
            answer = show(ticket, access)
            session.commit()
            return answer

        post.__doc__ = doc
        decorated = _err(blp, 409, "`invalid_transition` (body names `current_status`), `already_rated`, "
                                   "`reopen_window_passed`")(post)
        decorated = _err(blp, 412, "`precondition_failed`: If-Match names an older version")(decorated)
        decorated = _err(blp, 404, "Not visible to you")(decorated)
        decorated = blp.response(200, schemas.ticket)(decorated)
        decorated = blp.arguments(args_schema)(decorated)
        decorated = guard(decorated)
        decorated = idempotent(decorated)
        view = type(f"{config.schema_prefix}{name}View", (MethodView,), {"post": decorated})
        blp.route(f"/tickets/<int:ticket_id>/{path}", endpoint=name)(view)

    def plain(action: str) -> Callable[..., Ticket]:
        def run(session, principal, ticket_id, args):
            return svc.transition(session, clock=_clock(), principal=principal, config=config,
                                  ticket_id=ticket_id, action=action, note=args.get("note"),
                                  expected_version=expected_version())
        return run

    action_view("acknowledge", "acknowledge", WorkflowNoteSchema, plain("acknowledge"),
                "Acknowledge (first response; stops the response clock). Staff of the owning organisation.",
                require_staff)
    action_view("assign", "assign", WorkflowAssignSchema, lambda s, p, tid, a: svc.assign(
        s, clock=_clock(), principal=p, config=config, ticket_id=tid, assignee_account_id=a["assignee_account_id"],
        note=a.get("note"), expected_version=expected_version()),
        "Assign to a technician of your organisation (`assignee_not_in_org` otherwise). Managers.", require_staff)
    action_view("start", "start", WorkflowNoteSchema, plain("start"),
                "Work has started. The assignee or a manager.", require_staff)
    action_view("request-info", "request_info", WorkflowRequiredNoteSchema, lambda s, p, tid, a: svc.request_info(
        s, clock=_clock(), principal=p, config=config, ticket_id=tid, note=a["note"],
        expected_version=expected_version()),
        "Ask the reporter a question: the ticket waits and its clock is paused.", require_staff)
    action_view("resume", "resume", WorkflowNoteSchema, plain("resume"),
                "Resume a ticket waiting for the reporter (the clock restarts with the time left).", require_staff)
    action_view("resolve", "resolve", WorkflowResolveSchema, lambda s, p, tid, a: svc.resolve(
        s, clock=_clock(), principal=p, config=config, ticket_id=tid, note=a["note"], photos=a["photos"],
        expected_version=expected_version()),
        "Resolved, with a note and your own photos. The reporter is told.", require_staff)
    action_view("reject", "reject", WorkflowReasonSchema, lambda s, p, tid, a: svc.reject(
        s, clock=_clock(), principal=p, config=config, ticket_id=tid, reason=a["reason"],
        expected_version=expected_version()),
        "Reject with a reason. Managers.", require_staff)
    action_view("duplicate", "mark_duplicate", WorkflowDuplicateSchema, lambda s, p, tid, a: svc.mark_duplicate(
        s, clock=_clock(), principal=p, config=config, ticket_id=tid, duplicate_of=a["duplicate_of"],
        note=a.get("note"), expected_version=expected_version()),
        "Close as a duplicate of another ticket of your organisation (both trails link). Managers.", require_staff)
    action_view("close", "close", WorkflowNoteSchema, plain("close"),
                "Close a resolved ticket the reporter has not confirmed. Managers.", require_staff)
    action_view("comments", "comment", WorkflowCommentSchema, lambda s, p, tid, a: svc.comment(
        s, clock=_clock(), principal=p, config=config, ticket_id=tid, text=a.get("text"), photos=a["photos"],
        expected_version=expected_version()),
        "Add a note and/or photos (reporter: own uploads, up to 9 a ticket). A reporter's comment answers "
        "a question (the clock restarts).")
    action_view("confirm", "confirm", WorkflowNoteSchema, plain("confirm"),
                "The reporter confirms the resolution: closed.", require_resident)
    action_view("reopen", "reopen", WorkflowReasonSchema, lambda s, p, tid, a: svc.reopen(
        s, clock=_clock(), principal=p, config=config, ticket_id=tid, reason=a["reason"],
        expected_version=expected_version()),
        f"Reopen within {config.reopen_days} days of the resolution (`reopen_window_passed` after).",
        require_resident)
    action_view("rating", "rate", WorkflowRateSchema, lambda s, p, tid, a: svc.rate(
        s, clock=_clock(), principal=p, config=config, ticket_id=tid, rating=a["rating"],
        comment_text=a.get("comment"), expected_version=expected_version()),
        "Rate 1–5 with a comment, once (`already_rated` after).", require_resident)

    if "transfer" in config.table:
        action_view("transfer", "transfer", WorkflowTransferSchema, lambda s, p, tid, a: routing.transfer(
            s, clock=_clock(), principal=p, config=config, ticket_id=tid, to_org_code=a["org"], note=a.get("note"),
            expected_version=expected_version()),
            "Transfer to another organisation (a bureau or a town): back to `submitted`, the new owner gets a "
            "fresh response clock. The dispatching organisation's staff, or the owner's dispatchers; not while "
            "the content waits for moderation (`content_pending_review`).", require_staff, may_let_go=True)

    @blp.route("/queue")
    class Queue(MethodView):
        @require_staff
        @blp.arguments(WorkflowQueueArgsSchema, location="query")
        @blp.response(200, WorkflowTicketPageSchema)
        def get(self, args):
            """Your organisation's tickets, soonest deadline first (open ones unless `status` is given).

            `dispatched=true`: the tickets your organisation routed, wherever they are now. Road
            chiefs and other scoped roles: the tickets assigned to you."""
            session = get_session()
            principal = current_principal()
            community_id = None
            if args.get("community"):
                community = find_community(session, args["community"])
                community_id = community.id if community is not None else -1
            assignee = args.get("assignee")
            assignee_id = None
            if assignee == "me":
                assignee_id = principal.account_id
            elif assignee:
                if not assignee.isdigit():
                    raise ApiError("validation_error", errors={"assignee": ["须为 me 或账号 id。"]})
                assignee_id = int(assignee)
            within = args.get("due_within_minutes")
            if args.get("due_soon") and within is None:
                within = config.due_soon_minutes
            stmt = svc.queue(session, clock=_clock(), principal=principal, config=config, status=args.get("status"),
                             category=args.get("category"), community_id=community_id,
                             overdue=args.get("overdue"), due_within_minutes=within, assignee_account_id=assignee_id,
                             dispatched=args["dispatched"])
            return _page(session, stmt, args)

    @blp.route("/escalated")
    class Escalated(MethodView):
        @require_staff
        @blp.arguments(WorkflowEscalatedArgsSchema, location="query")
        @blp.response(200, WorkflowTicketPageSchema)
        def get(self, args):
            """Supervisors: escalated tickets of every organisation you supervise."""
            session = get_session()
            org_id = None
            if args.get("org"):
                org_id = session.scalar(sa.select(Organisation.id).where(Organisation.code == args["org"])) or -1
            stmt = svc.escalated(session, principal=current_principal(), config=config,
                                 open_only=not args["include_closed"], org_id=org_id)
            return _page(session, stmt, args)

    @blp.route("/stats")
    class Stats(MethodView):
        @require_staff
        @blp.arguments(WorkflowStatsArgsSchema, location="query")
        @blp.response(200, WorkflowStatsSchema)
        def get(self, args):
            """Per organisation, tickets created in a date range: counts, time to first response
            (median, p90), breach rate, average rating. Supervisors: every company supervised."""
            return compute_stats(get_session(), clock=_clock(), principal=current_principal(), config=config,
                                 date_from=args["date_from"], date_to=args["date_to"], org_code=args.get("org"))

    @blp.route("/assignees")
    class Assignees(MethodView):
        @require_staff
        @blp.response(200, WorkflowStaffListSchema)
        def get(self):
            """Staff of your organisation you may assign tickets to."""
            rows = svc.assignable_staff(get_session(), principal=current_principal(), config=config)
            return {"items": [{"account_id": m.account_id, "username": m.account.username, "role": m.role}
                              for m in rows]}

    return blp


def scenario_blueprints(config: WorkflowConfig) -> list[Blueprint]:
    """The engine's ``scenario_blueprints``: a scenario's ticket endpoints."""
    return [make_blueprint(config)]


# ---------------------------------------------------------------- engine-wide endpoints


def _policy_view(p: SlaPolicy) -> dict[str, Any]:
    return {"id": p.id, "scenario": p.scenario, "category": p.category, "response_minutes": p.response_minutes,
            "resolution_minutes": p.resolution_minutes, "calendar": p.calendar,
            "work_start_minute": p.work_start_minute, "work_end_minute": p.work_end_minute, "active": p.active,
            "created_at": p.created_at}


def _default_view(config: WorkflowConfig) -> dict[str, Any]:
    d = config.default_sla
    return {"id": None, "scenario": config.slug, "category": None, "response_minutes": d.response_minutes,
            "resolution_minutes": d.resolution_minutes, "calendar": d.calendar,
            "work_start_minute": d.work_start_minute, "work_end_minute": d.work_end_minute, "active": True,
            "created_at": None}


def list_policy_views(session, *, scenario: str | None, include_inactive: bool) -> list[dict[str, Any]]:
    rows = policies.list_policies(session, scenario=scenario, include_inactive=include_inactive)
    items = [_policy_view(p) for p in rows]
    with_default = {p.scenario for p in rows if p.category is None and p.active}
    for slug, config in sorted(CONFIGS.items()):
        if (scenario is None or slug == scenario) and slug not in with_default:
            items.append(_default_view(config))
    return items


def _config_or_422(slug: str) -> WorkflowConfig:
    config = config_for(slug)
    if config is None:
        raise ApiError("validation_error", errors={"scenario": [
            f"没有这个工单场景；可选：{', '.join(sorted(CONFIGS))}。"]})
    return config


def _require_district_admin() -> None:
    if not current_principal().is_district_admin:
        raise ApiError("forbidden")


def blueprints(settings: Settings) -> list[Blueprint]:
    policies.configure(settings)  # SLA_CACHE_SECONDS: this process's cache of the terms of new tickets
    me = Blueprint("workflow-me", __name__, url_prefix="/api/v1/me",
                   description="The caller's tickets across every workflow scenario (服务生活圈).")

    @me.route("/tickets")
    class MyTickets(MethodView):
        @require_resident
        @me.arguments(WorkflowMineArgsSchema, location="query")
        @me.response(200, WorkflowTicketPageSchema)
        def get(self, args):
            """Everything you reported, in every workflow scenario, newest first (`open=true`: in progress)."""
            stmt = svc.mine(current_principal(), scenario=args.get("scenario"), status=args.get("status"),
                            open_only=args["open"])
            return _page(get_session(), stmt, args)

    admin = Blueprint("workflow-sla", __name__, url_prefix="/api/v1/admin/sla-policies", cli_group="sla",
                      description="SLA policies of the workflow scenarios (district administrators).")

    @admin.route("")
    class SlaPolicies(MethodView):
        @require_staff
        @admin.arguments(SlaPolicyArgsSchema, location="query")
        @admin.response(200, SlaPolicyListSchema)
        def get(self, args):
            """Active policies (and each scenario's built-in default when it has no row yet)."""
            _require_district_admin()
            return {"items": list_policy_views(get_session(), scenario=args.get("scenario"),
                                               include_inactive=args["include_inactive"])}

        @require_staff
        @admin.arguments(SlaPolicyPutSchema)
        @admin.response(200, SlaPolicySchema)
        @_err(admin, 422, "`unknown_category`, `validation_error` (unknown scenario...)")
        def put(self, args):
            """Set the policy of a scenario (and category): a new version, for tickets created after."""
            _require_district_admin()
            session = get_session()
            config = _config_or_422(args.pop("scenario"))
            policy = policies.set_policy(session, config=config, now=_clock().now(),
                                         actor_account_id=current_principal().account_id, **args)
            session.commit()
            return _policy_view(policy)

    @admin.cli.command("set-policy")
    @click.option("--scenario", required=True)
    @click.option("--category", default=None)
    @click.option("--response-minutes", type=click.IntRange(min=1), required=True)
    @click.option("--resolution-minutes", type=click.IntRange(min=1), default=None)
    @click.option("--calendar", type=click.Choice(["24x7", "business"]), default="24x7")
    @click.option("--work-start", "work_start_minute", type=click.IntRange(0, 1439), default=9 * 60,
                  help="business calendar: minutes after midnight (Beijing)")
    @click.option("--work-end", "work_end_minute", type=click.IntRange(1, 1440), default=17 * 60)
    def set_policy_cmd(scenario: str, **kw: Any) -> None:
        """Set an SLA policy (a new version; applies to tickets created after)."""
        config = config_for(scenario)
        if config is None:
            raise click.BadParameter(f"no workflow scenario {scenario!r} ({', '.join(sorted(CONFIGS))})")
        db, clock = current_app.extensions["db"], current_app.extensions["clock"]
        try:
            with db.transaction() as session:
                policy = policies.set_policy(session, config=config, now=clock.now(), **kw)
                view = _policy_view(policy)
        except ApiError as err:
            raise click.ClickException(f"{err.code}: {err.errors or ''}") from err
        resolution = f"{view['resolution_minutes']} min" if view["resolution_minutes"] else "none"
        click.echo(f"policy {view['id']}: {scenario} {kw['category'] or '(default)'} "
                   f"response {view['response_minutes']} min, resolution {resolution}, {view['calendar']}")

    @admin.cli.command("list")
    def list_cmd() -> None:
        """Print the active policies."""
        db = current_app.extensions["db"]
        with db.transaction(write=False) as session:
            for item in list_policy_views(session, scenario=None, include_inactive=False):
                source = f"row {item['id']}" if item["id"] else "built-in"
                click.echo(f"{item['scenario']}\t{item['category'] or '(default)'}\t{item['response_minutes']}\t"
                           f"{item['resolution_minutes']}\t{item['calendar']}\t{source}")

    @admin.cli.command("load-calendar")
    def load_calendar_cmd() -> None:
        """Load the 2026 China holidays and make-up working days (idempotent)."""
        from app.calendar import load_calendar_days

        with current_app.extensions["db"].transaction() as session:
            click.echo(f"{load_calendar_days(session)} day(s) changed")

    return [me, admin]


__all__ = ["blueprints", "expected_version", "make_blueprint", "scenario_blueprints"]
