"""Who sees a ticket and how they count on it; locking a ticket for a change.

Visibility: the reporter sees their own tickets; staff see what their organisation reaches
(``auth.permissions.reach``: members, supervisors, the district), but only members act; the
staff of the dispatching organisation (``dispatch_org_id``) see the tickets they routed and
act as ``dispatcher``; staff in a scoped role (``config.scoped_roles``: road chiefs) see only
the tickets assigned to them or that they reported, whatever their organisation; anyone
else gets 404. Visible but not allowed is 403; allowed but from the wrong state is 409
``invalid_transition`` naming the current state.

Locking (PostgreSQL): every change first locks the ticket's pending timers, then the ticket
row (``lock_ticket``). The worker holds a due timer's lock while its handler locks the
ticket, so both sides take the locks in the same order (timer, then ticket) and cannot
deadlock; an acknowledgement racing the sweep either waits for the escalation to commit
(and is then recorded late) or commits first and cancels the timer (the handler, finding
the ticket answered, does nothing). SQLite serialises writers (``BEGIN IMMEDIATE``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.errors import ApiError
from app.timers import PENDING, Timer
from auth.organisations import Organisation
from auth.permissions import reach
from auth.principal import Principal
from auth.visibility import register
from scenarios.engines.workflow.config import WorkflowConfig, config_for
from scenarios.engines.workflow.models import SUBJECT, Ticket
from scenarios.engines.workflow.transitions import ASSIGNEE, DISPATCHER, REPORTER


@dataclass(frozen=True)
class Access:
    """How the caller relates to a ticket: ``how`` they see it, and the actors they count as."""

    how: str  # reporter | member | dispatcher | assignee | ancestor | supervisor | district
    actors: frozenset[str] = field(default_factory=frozenset)

    @property
    def can_act(self) -> bool:
        return bool(self.actors)

    @property
    def staff_view(self) -> bool:
        """The caller sees the ticket as staff (its internal notes, the reporter's masked contact),
        not as its reporter."""
        return self.how != "reporter"


def lock_ticket(session: Session, ticket_id: int) -> Ticket | None:
    """Lock the ticket's pending timers, then the ticket (see the module docstring)."""
    session.execute(
        sa.select(Timer.id)
        .where(Timer.subject_type == SUBJECT, Timer.subject_id == str(ticket_id), Timer.state == PENDING)
        .with_for_update()
    ).all()
    return session.scalars(
        sa.select(Ticket).where(Ticket.id == ticket_id).with_for_update(),
        execution_options={"populate_existing": True},
    ).one_or_none()


def access_to(session: Session, principal: Principal, ticket: Ticket | None,
              config: WorkflowConfig | None = None) -> Access:
    """The caller's access to ``ticket``; 404 when they may not see it (or it is not there)."""
    if ticket is None or (config is not None and ticket.scenario != config.slug):
        raise ApiError("not_found")
    if principal.is_resident:
        if principal.account_id is not None and ticket.reporter_account_id == principal.account_id:
            return Access("reporter", frozenset({REPORTER}))
        raise ApiError("not_found")
    if principal.is_staff:
        actors: set[str] = set()
        if principal.account_id is not None and ticket.reporter_account_id == principal.account_id:
            actors.add(REPORTER)  # a staff reporter (a road chief on patrol)
        config = config or config_for(ticket.scenario)
        if config is not None and principal.role in config.scoped_roles:
            if principal.account_id is not None and ticket.assignee_account_id == principal.account_id:
                actors |= {principal.role, ASSIGNEE}
                return Access("assignee", frozenset(actors))
            if actors:
                return Access("reporter", frozenset(actors))
            raise ApiError("not_found")
        org = session.get(Organisation, ticket.org_id)
        how = reach(principal, org, session=session) if org is not None else None
        if how == "member" and principal.role:
            actors.add(principal.role)
            if ticket.assignee_account_id == principal.account_id:
                actors.add(ASSIGNEE)
        if ticket.dispatch_org_id is not None and ticket.dispatch_org_id == principal.org_id:
            actors.add(DISPATCHER)
            how = how if how == "member" else "dispatcher"
        if how is None:
            if REPORTER in actors:
                return Access("reporter", frozenset(actors))
            raise ApiError("not_found")
        return Access(how, frozenset(actors))
    raise ApiError("not_found")


def get_ticket(session: Session, *, principal: Principal, config: WorkflowConfig | None,
               ticket_id: int) -> tuple[Ticket, Access]:
    ticket = session.get(Ticket, ticket_id)
    return ticket, access_to(session, principal, ticket, config)  # type: ignore[return-value]


def locked(session: Session, principal: Principal, config: WorkflowConfig, ticket_id: int) -> tuple[Ticket, Access]:
    """The ticket locked for a change, and the caller's access to it (404 before anything else)."""
    ticket = lock_ticket(session, ticket_id)
    return ticket, access_to(session, principal, ticket, config)  # type: ignore[return-value]


def check_version(ticket: Ticket, expected: int | None) -> None:
    if expected is not None and ticket.version != expected:
        raise ApiError("precondition_failed", detail={"current_version": ticket.version})


def invalid(ticket: Ticket, action: str) -> ApiError:
    return ApiError("invalid_transition", detail={"current_status": ticket.status, "action": action},
                    message=f"工单当前状态为“{ticket.status}”，不能执行“{action}”。")


def _ticket_by_id(session: Session, key: int) -> Ticket | None:
    return session.get(Ticket, key)


def _sees_ticket(session: Session, principal: Principal, ticket: Ticket) -> bool:
    try:
        access_to(session, principal, ticket)
    except ApiError:
        return False
    return True


def register_object_type() -> None:
    """The engine's rule in the one registry (auth imports no engine: the engine tells auth)."""
    register(SUBJECT, load=_ticket_by_id, visible=_sees_ticket,
             description="a workflow ticket (the reporter; staff who reach its organisation; dispatchers; assignees)")
