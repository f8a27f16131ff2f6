"""HTTP API of a workflow scenario, built from the engine's table of actions (actions.py).

``make_blueprint(config)`` builds a scenario's blueprint with fresh view classes, mounted at
``/api/v1/<slug>``: filing and reading tickets (two views of their own), then one generic view
per row of ``actions.ACTIONS`` (``POST /tickets/<id>/<path>``), of ``actions.LISTS``
(``GET /<path>``, pages of ticket summaries) and of ``actions.EXPORTS`` (``GET /<path>``, a
list as a CSV or XLSX file), plus the figures and the assignable staff.
Engine-wide endpoints (``/api/v1/me/tickets``, the SLA policies) are in engine_routes.py.

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

from flask import Response, request
from flask.views import MethodView

from app.api import Blueprint, ErrorSchema, paginate
from app.context import current_clock
from app.db import get_session
from app.errors import ApiError
from app.idempotency import idempotent
from auth.principal import current_principal, require_auth, require_resident, require_staff
from auth.visibility import visible_object
from scenarios.engines.workflow import export
from scenarios.engines.workflow import service as svc
from scenarios.engines.workflow.access import Access, get_ticket, register_object_type
from scenarios.engines.workflow.actions import (
    ACTIONS,
    ANYONE,
    EXPORTS,
    LISTS,
    MINE,
    RESIDENT,
    STAFF,
    Action,
    Export,
    Listing,
)
from scenarios.engines.workflow.config import WorkflowConfig
from scenarios.engines.workflow.models import SUBJECT, Ticket
from scenarios.engines.workflow.presenters import full, summaries, summary_rows
from scenarios.engines.workflow.schemas import (
    WorkflowStaffListSchema,
    WorkflowStatsArgsSchema,
    WorkflowStatsSchema,
    WorkflowTicketPageSchema,
    scenario_schemas,
)
from scenarios.engines.workflow.stats import stats as compute_stats

_IF_MATCH = re.compile(r'^\s*(?:W/)?"(\d{1,10})"\s*$')
GUARDS: dict[str, Callable] = {STAFF: require_staff, RESIDENT: require_resident, ANYONE: require_auth}


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


def page_of_summaries(session, stmt, args: dict[str, Any]) -> dict[str, Any]:
    """One page of a list of tickets, as summaries (the summary's columns only: rows, not objects)."""
    page = paginate(session, summary_rows(stmt), args, rows=True)
    page["items"] = summaries(session, page["items"], now=current_clock().now())
    return page


def _err(blp: Blueprint, status: int, description: str) -> Callable:
    return blp.alt_response(status, schema=ErrorSchema, description=description)


def _paging(args: dict[str, Any]) -> dict[str, Any]:
    return {"page": args.pop("page"), "page_size": args.pop("page_size")}


def make_blueprint(config: WorkflowConfig) -> Blueprint:
    """The scenario's ticket endpoints, with fresh view classes and scenario-named schemas."""
    register_object_type()
    schemas = scenario_schemas(config)
    slug = config.slug
    blp = Blueprint(f"{slug}-tickets", __name__, url_prefix=f"/api/v1/{slug}",
                    description=f"{config.title_zh}: tickets ({slug}), on the workflow engine.")

    def show(ticket: Ticket, access: Access, status: int = 200,
             created: svc.Created | None = None) -> tuple[dict[str, Any], int, dict[str, str]]:
        body = full(get_session(), ticket, access, clock=current_clock(), config=config,
                    created=created is not None, similar_open=created.similar_open if created else None,
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

            The answer's `similar_report` says whether a report of the same category is already
            open in the same building (or within a short distance), with a sentence for the
            reporter, and nothing else: no id, number or count (`possible_duplicates` stays, always
            empty, for older clients). The owning organisation's managers are told.
            """
            session = get_session()
            principal = current_principal()
            created = svc.create(session, clock=current_clock(), principal=principal, config=config, data=args)
            _, access = get_ticket(session, principal=principal, config=config, ticket_id=created.ticket.id)
            answer = show(created.ticket, access, 201, created)
            session.commit()  # last: no transaction stays open (module docstring)
            return answer

        get = _list_method(blp, config, MINE)

    @blp.route("/tickets/<int:ticket_id>")
    class TicketItem(MethodView):
        @visible_object(SUBJECT, "ticket_id")
        @require_auth
        @blp.response(200, schemas.ticket)
        @_err(blp, 404, "Not yours, not your organisation's, or no such ticket")
        def get(self, ticket_id: int):
            """A ticket with its trail, due times and photos (reporter, owning or supervising staff)."""
            ticket, access = get_ticket(get_session(), principal=current_principal(), config=config,
                                            ticket_id=ticket_id)
            return show(ticket, access)

    for action in (*ACTIONS, *config.actions):
        if action.offered(config):
            _action_view(blp, config, schemas.ticket, action, show)
    for listing in LISTS:
        view = type(f"{config.schema_prefix}{listing.endpoint}View", (MethodView,),
                    {"get": _list_method(blp, config, listing)})
        blp.route(listing.path, endpoint=listing.endpoint)(view)
    for row in EXPORTS:
        view = type(f"{config.schema_prefix}{row.endpoint}View", (MethodView,),
                    {"get": _export_method(blp, config, row)})
        blp.route(row.path, endpoint=row.endpoint)(view)

    @blp.route("/stats")
    class Stats(MethodView):
        @require_staff
        @blp.arguments(WorkflowStatsArgsSchema, location="query")
        @blp.response(200, WorkflowStatsSchema)
        def get(self, args):
            """Per organisation, tickets created in a date range: counts, time to first response
            (median, p90), breach rate, average rating. Supervisors: every company supervised."""
            return compute_stats(get_session(), clock=current_clock(), principal=current_principal(), config=config,
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


def _list_method(blp: Blueprint, config: WorkflowConfig, listing: Listing) -> Callable:
    """The GET of a ``Listing``: its arguments to its service, the query paged and summarised."""

    def get(self, args):
        session = get_session()
        paging = _paging(args)
        stmt = listing.service(session, clock=current_clock(), principal=current_principal(), config=config,
                               **args)
        return page_of_summaries(session, stmt, {**paging})

    get.__doc__ = listing.summary
    decorated = blp.response(200, WorkflowTicketPageSchema)(get)
    decorated = blp.arguments(listing.schema, location="query")(decorated)
    return GUARDS[listing.callers](decorated)


def _export_method(blp: Blueprint, config: WorkflowConfig, row: Export) -> Callable:
    """The GET of an ``Export``: its filters to its service, every row selected written to a file."""

    def get(self, args):
        session = get_session()
        clock = current_clock()
        fmt = args.pop("format")
        stmt = row.service(session, clock=clock, principal=current_principal(), config=config, **args)
        now = clock.now()
        body = export.write(fmt, export.rows(session, stmt, now=now), config=config)
        name = export.filename(config, fmt, now, row.file_name)
        return Response(body, status=200, content_type=export.CONTENT_TYPES[fmt], headers={
            "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff"})

    get.__doc__ = row.summary
    decorated = blp.doc(responses={"200": {
        "description": "The file, as an attachment (`Content-Disposition`)",
        "content": {t.split(";")[0]: {"schema": {"type": "string", "format": "binary"}}
                    for t in export.CONTENT_TYPES.values()},
        "headers": {"Content-Disposition": {"schema": {"type": "string"},
                                            "description": 'attachment; filename="<slug>-queue-<time>.<format>"'}},
    }})(get)
    decorated = blp.response(200, description="The file")(decorated)
    decorated = _err(blp, 422, "`export_too_large` (more than 10,000 tickets: narrow the filters), "
                               "`validation_error` (the field at fault: format, sort, q...)")(decorated)
    decorated = blp.arguments(row.schema, location="query")(decorated)
    return GUARDS[row.callers](decorated)


def _action_view(blp: Blueprint, config: WorkflowConfig, ticket_schema: type, action: Action,
                 show: Callable[..., Any]) -> None:
    """``POST /tickets/<id>/<path>``: the action's service on the ticket, then the ticket as the
    caller sees it now."""

    def post(self, args, ticket_id: int):
        session = get_session()
        principal = current_principal()
        ticket = action.service(session, clock=current_clock(), principal=principal, config=config,
                                ticket_id=ticket_id, expected_version=expected_version(), **args)
        try:
            _, access = get_ticket(session, principal=principal, config=config, ticket_id=ticket.id)
        except ApiError:
            if not action.lets_go:
                raise
            access = Access("former", frozenset())  # transferred away: this answer is the last look
        answer = show(ticket, access)
        session.commit()
        return answer

    post.__doc__ = action.describe(config)
    decorated = _err(blp, 409, "`invalid_transition` (body names `current_status`), `already_rated`, "
                               "`reopen_window_passed`")(post)
    decorated = _err(blp, 412, "`precondition_failed`: If-Match names an older version")(decorated)
    decorated = _err(blp, 404, "Not visible to you")(decorated)
    decorated = blp.response(200, ticket_schema)(decorated)
    decorated = blp.arguments(action.schema)(decorated)
    decorated = GUARDS[action.callers](decorated)  # visible but not this kind of caller: 403
    decorated = visible_object(SUBJECT, "ticket_id")(decorated)  # first: not visible is 404
    decorated = idempotent(decorated)
    view = type(f"{config.schema_prefix}{action.endpoint}View", (MethodView,), {"post": decorated})
    blp.route(f"/tickets/<int:ticket_id>/{action.path}", endpoint=action.endpoint)(view)


def scenario_blueprints(config: WorkflowConfig) -> list[Blueprint]:
    """The engine's ``scenario_blueprints``: a scenario's ticket endpoints."""
    return [make_blueprint(config)]


__all__ = ["expected_version", "make_blueprint", "page_of_summaries", "scenario_blueprints"]
