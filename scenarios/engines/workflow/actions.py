"""The workflow engine's HTTP actions as data: one row per endpoint, served by generic views
(routes.py). A row names its path, its arguments' schema, the service function, who may call
it, and its summary; the service takes the schema's fields as keyword arguments and resolves
them itself (an organisation code, ``me``), so adding an action is one row and one service.

- ``ACTIONS``: ``POST /tickets/<id>/<path>`` on one ticket, with ``If-Match`` and
  ``Idempotency-Key``; the answer is the ticket as the caller sees it afterwards.
- ``LISTS``: ``GET /<path>`` pages of ticket summaries (the service returns a query).
- ``EXPORTS``: ``GET /<path>`` a list as a file (CSV or XLSX), every ticket the filters select
  up to ``export.MAX_ROWS`` (the service returns the same query as the list's).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scenarios.engines.workflow import routing
from scenarios.engines.workflow import service as svc
from scenarios.engines.workflow.config import WorkflowConfig
from scenarios.engines.workflow.schemas import (
    WorkflowAppointmentSchema,
    WorkflowAssignSchema,
    WorkflowCommentSchema,
    WorkflowDuplicateSchema,
    WorkflowEscalatedArgsSchema,
    WorkflowMineArgsSchema,
    WorkflowNoteSchema,
    WorkflowPrioritySchema,
    WorkflowQueueArgsSchema,
    WorkflowQueueExportArgsSchema,
    WorkflowRateSchema,
    WorkflowReasonSchema,
    WorkflowRequiredNoteSchema,
    WorkflowResolveSchema,
    WorkflowTransferSchema,
)

STAFF, RESIDENT, ANYONE = "staff", "resident", "anyone"
"""Who may call an endpoint at all; the service then decides on the ticket (404/403/409)."""


def _always(config: WorkflowConfig) -> bool:
    return True


@dataclass(frozen=True)
class Action:
    """``POST /tickets/<id>/<path>``: ``service(session, *, clock, principal, config, ticket_id,
    expected_version, **arguments)`` returns the ticket."""

    path: str
    endpoint: str
    schema: type
    service: Callable[..., Any]
    callers: str
    summary: Callable[[WorkflowConfig], str] | str
    lets_go: bool = False
    """The caller may lose sight of the ticket by this action (a transfer): the answer is its
    last look instead of a 404."""
    offered: Callable[[WorkflowConfig], bool] = _always
    """Whether the scenario has this action at all."""
    shown: Callable[[Any, Any], bool] | None = None
    """For a scenario's action outside the transition table (``allowed_actions`` lists only the
    table's): ``shown(ticket, access)``, whether a client should offer it to this caller now —
    the service's own predicate, so the console's form and the service never disagree."""

    def describe(self, config: WorkflowConfig) -> str:
        return self.summary(config) if callable(self.summary) else self.summary


@dataclass(frozen=True)
class Listing:
    """``GET /<path>``: ``service(session, *, clock, principal, config, **arguments)`` returns a
    query of tickets, paged and summarised by the view."""

    path: str
    endpoint: str
    schema: type
    service: Callable[..., Any]
    callers: str
    summary: str


@dataclass(frozen=True)
class Export:
    """``GET /<path>?format=csv|xlsx``: ``service(session, *, clock, principal, config, **filters)``
    returns the query of a list (``Listing``), written to a file by ``export.write``."""

    path: str
    endpoint: str
    schema: type
    service: Callable[..., Any]
    callers: str
    summary: str
    file_name: str = "export"
    """The file's name before the time (``<slug>-<file_name>-<time>.<format>``)."""


ACTIONS: tuple[Action, ...] = (
    Action("acknowledge", "acknowledge", WorkflowNoteSchema, svc.acknowledge, STAFF,
           "Acknowledge (first response; stops the response clock). Staff of the owning organisation."),
    Action("assign", "assign", WorkflowAssignSchema, svc.assign, STAFF,
           "Assign to a technician of your organisation (`assignee_not_in_org` otherwise). Managers. With "
           "`appointment_at`, when they will call (the reporter is told)."),
    Action("start", "start", WorkflowNoteSchema, svc.start, STAFF,
           "Work has started. The assignee or a manager."),
    Action("request-info", "request_info", WorkflowRequiredNoteSchema, svc.request_info, STAFF,
           "Ask the reporter a question: the ticket waits and its clock is paused."),
    Action("resume", "resume", WorkflowNoteSchema, svc.resume, STAFF,
           "Resume a ticket waiting for the reporter (the clock restarts with the time left)."),
    Action("resolve", "resolve", WorkflowResolveSchema, svc.resolve, STAFF,
           "Resolved, with a note and your own photos. The reporter is told."),
    Action("reject", "reject", WorkflowReasonSchema, svc.reject, STAFF, "Reject with a reason. Managers."),
    Action("duplicate", "mark_duplicate", WorkflowDuplicateSchema, svc.mark_duplicate, STAFF,
           "Close as a duplicate of another ticket of your organisation (both trails link). Managers."),
    Action("close", "close", WorkflowNoteSchema, svc.close, STAFF,
           "Close a resolved ticket the reporter has not confirmed. Managers."),
    Action("comments", "comment", WorkflowCommentSchema, svc.comment, ANYONE,
           "Add a note and/or photos (reporter: own uploads, up to 9 a ticket). A reporter's comment answers "
           "a question (the clock restarts). Staff: `internal: true` for a note only staff see (never shown "
           "or told to the reporter; `internal_note_staff_only` from the reporter)."),
    Action("priority", "set_priority", WorkflowPrioritySchema, svc.set_priority, ANYONE,
           "Set the priority (low, normal, high, urgent) with a reason: staff of the owning organisation "
           "(other staff who see the ticket and its reporter: 403). The reason is an internal event."),
    Action("appointment", "set_appointment", WorkflowAppointmentSchema, svc.set_appointment, ANYONE,
           "Set or change when you will call at the reporter's (from now to 90 days ahead: "
           "`appointment_in_past`, `appointment_too_far`), on an open ticket: staff of the owning "
           "organisation (other staff who see the ticket and its reporter: 403). The reporter is told."),
    Action("confirm", "confirm", WorkflowNoteSchema, svc.confirm, RESIDENT,
           "The reporter confirms the resolution: closed."),
    Action("reopen", "reopen", WorkflowReasonSchema, svc.reopen, RESIDENT,
           lambda config: f"Reopen within {config.reopen_days} days of the resolution "
                          "(`reopen_window_passed` after)."),
    Action("rating", "rate", WorkflowRateSchema, svc.rate, RESIDENT,
           "Rate 1–5 with a comment, once (`already_rated` after)."),
    Action("transfer", "transfer", WorkflowTransferSchema, routing.transfer, STAFF,
           "Transfer to another organisation (a bureau or a town): back to `submitted`, the new owner gets a "
           "fresh response clock. The dispatching organisation's staff, or the owner's dispatchers; not while "
           "the content waits for moderation (`content_pending_review`).",
           lets_go=True, offered=lambda config: "transfer" in config.table),
)

LISTS: tuple[Listing, ...] = (
    Listing("/queue", "Queue", WorkflowQueueArgsSchema, svc.queue, STAFF,
            "Your organisation's tickets, soonest deadline first (open ones unless `status` is given).\n\n"
            "`q` searches ticket numbers (whole or their beginning), rooms, buildings and the text;\n"
            "`sort`: due (default), created, -created, priority, updated; `priority` filters.\n"
            "`dispatched=true`: the tickets your organisation routed, wherever they are now. Road\n"
            "chiefs and other scoped roles: the tickets assigned to you."),
    Listing("/escalated", "Escalated", WorkflowEscalatedArgsSchema, svc.escalated, STAFF,
            "Supervisors: escalated tickets of every organisation you supervise."),
)

EXPORTS: tuple[Export, ...] = (
    Export("/queue/export", "QueueExport", WorkflowQueueExportArgsSchema, svc.queue, STAFF,
           "The queue as a file, with the queue's filters and order, every ticket they select (no pages; more "
           "than 10,000: 422 `export_too_large`): `format=csv` (UTF-8 with a BOM, for Excel) or `xlsx`. "
           "Columns: number, status, category, priority, community, building, room, created, due, overdue, "
           "assignee, escalation level, appointment; no personal data of residents (not even the text).",
           file_name="queue"),
)

MINE = Listing("/tickets", "Tickets", WorkflowMineArgsSchema, svc.mine, RESIDENT,
               "Your own tickets in this scenario, newest first.")
