"""hotline-12345's own actions on a work order, each a transition of its table (``TABLE``)
made through the engine's ``changes.perform``, so the trail, the version and the notices
are the engine's:

- ``send_back`` (退单): the department in charge sends the order back to the hotline office
  with a reason, once per department (``already_sent_back`` the second time); the office
  re-routes it (``transfer``). Its response clock restarts with the office.
- ``reply``: the department (or the office) records its reply to the caller — the content,
  the channel, the time; not a transition. ``close`` (and ``confirm``) refuse without one
  (``reply_required``, the engine's guard).
- ``satisfaction``: the office records the caller's verdict (满意 / 基本满意 / 不满意), by SMS
  link or by phone, once per round and only after a reply (``reply_required``). 不满意 the
  first time reopens the order with the same department for a second handling (clocks
  restart, a new reply is needed); otherwise a resolved order is closed.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from auth.organisations import Organisation
from auth.principal import Principal
from scenarios.engines.workflow import notifications, sla, trail
from scenarios.engines.workflow.access import Access, invalid, locked
from scenarios.engines.workflow.changes import perform
from scenarios.engines.workflow.config import WorkflowConfig
from scenarios.engines.workflow.models import FINAL_STATUSES, Ticket, TicketEvent
from scenarios.engines.workflow.transitions import DISPATCHER, Transition, TransitionTable, default_table

DEPARTMENT_ROLES = ("supervisor", "admin", "staff")
OFFICE_ROLES = ("call_taker",)
"""Call-takers route, re-route and close; the office's manager reads the figures."""
SATISFACTION = ("满意", "基本满意", "不满意")
CHANNELS = ("phone", "sms", "visit")


def _table() -> TransitionTable:
    base = default_table(dispatchers=("supervisor", "admin", *OFFICE_ROLES), handlers=DEPARTMENT_ROLES,
                         transfer=True)
    return TransitionTable([
        *base.by_action.values(),
        Transition("send_back", frozenset({"submitted", "acknowledged", "reopened"}), "submitted",
                   frozenset(DEPARTMENT_ROLES)),
        Transition("reopen_unsatisfied", frozenset({"resolved", "closed"}), "reopened",
                   frozenset({DISPATCHER, *OFFICE_ROLES})),
    ])


TABLE = _table()


def require_reply(session: Session, ticket: Ticket) -> None:
    """The engine's guard on ``close`` and ``confirm``: the caller has had a reply."""
    if not (ticket.details or {}).get("reply"):
        raise ApiError("reply_required")


def _set(ticket: Ticket, **values: Any) -> None:
    ticket.details = {**(ticket.details or {}), **values}  # a new dict: the JSON column sees the change


def send_back(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, ticket_id: int,
              reason: str, expected_version: int | None = None) -> Ticket:
    ticket, access = locked(session, principal, config, ticket_id)
    reason = config.check_text(reason, "reason")
    source = session.get(Organisation, ticket.org_id)
    office = session.get(Organisation, ticket.dispatch_org_id) if ticket.dispatch_org_id else None

    def check(t: Ticket, now: datetime) -> None:
        if office is None or t.org_id == office.id:
            raise invalid(t, "send_back")  # already with the office
        if source.code in (t.details or {}).get("sent_back_by", []):
            raise ApiError("already_sent_back")

    def apply(t: Ticket, now: datetime) -> None:
        t.org_id = office.id
        t.assignee_account_id = None
        _set(t, sent_back_by=[*(t.details or {}).get("sent_back_by", []), source.code])
        sla.restart_response(session, t, now)

    def after(t: Ticket, event: TicketEvent, now: datetime) -> None:
        notifications.tell_new_owner(session, clock, config, t, event, True)

    perform(session, clock=clock, principal=principal, config=config, ticket=ticket, access=access,
            action="send_back", note=reason, expected_version=expected_version, check=check, apply=apply,
            after=after, data={"from_org": source.code, "to_org": office.code if office else None})
    return ticket


ANSWERED = ("resolved", "closed")
"""Where the caller's verdict is asked."""


def replies(access: Access) -> bool:
    """Who records the reply to the caller: the department holding the order, or the office."""
    return bool(access.actors & {DISPATCHER, *DEPARTMENT_ROLES, *OFFICE_ROLES}) and access.how != "reporter"


def records_verdicts(access: Access) -> bool:
    """Who records the caller's verdict: the hotline office."""
    return bool(access.actors & {DISPATCHER, *OFFICE_ROLES})


def offer_reply(ticket: Ticket, access: Access) -> bool:
    """``reply``'s own conditions (``Action.shown``): the console's form where it would be taken."""
    return replies(access) and ticket.status not in FINAL_STATUSES


def offer_satisfaction(ticket: Ticket, access: Access) -> bool:
    """``satisfaction``'s own conditions (``Action.shown``): a reply given, a verdict due this round."""
    details = ticket.details or {}
    return (records_verdicts(access) and ticket.status in ANSWERED and bool(details.get("reply"))
            and len(details.get("satisfaction", [])) <= ticket.reopen_count)


def reply(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, ticket_id: int,
          content: str, channel: str, replied_at: datetime | None = None,
          expected_version: int | None = None) -> Ticket:
    ticket, access = locked(session, principal, config, ticket_id)
    if not replies(access):
        raise ApiError("forbidden")
    if ticket.status in FINAL_STATUSES:
        raise invalid(ticket, "reply")
    content = config.check_text(content, "content")
    now = clock.now()
    at = replied_at or now
    if at.tzinfo is None or at > now:
        raise ApiError("validation_error", errors={"replied_at": ["须为不晚于现在、带时区的时间。"]})
    org = session.get(Organisation, principal.org_id)
    _set(ticket, reply={"content": content, "channel": channel, "at": at.isoformat(), "org": org.code})
    trail.touch(ticket, now)
    trail.add_event(session, ticket, principal, "reply", at=now, from_status=ticket.status, to_status=ticket.status,
                    note=content, data={"channel": channel, "replied_at": at.isoformat()})
    session.flush()
    return ticket


def satisfaction(session: Session, *, clock: Clock, principal: Principal, config: WorkflowConfig, ticket_id: int,
                 result: str, via: str, expected_version: int | None = None) -> Ticket:
    ticket, access = locked(session, principal, config, ticket_id)
    if not records_verdicts(access):
        raise ApiError("forbidden")
    details = ticket.details or {}
    if ticket.status not in ANSWERED:
        raise invalid(ticket, "satisfaction")
    if not details.get("reply"):
        raise ApiError("reply_required")
    rounds = list(details.get("satisfaction", []))
    if len(rounds) > ticket.reopen_count:
        raise ApiError("satisfaction_recorded")
    now = clock.now()
    rounds.append({"result": result, "via": via, "at": now.isoformat()})
    _set(ticket, satisfaction=rounds)
    second_round = sum(1 for r in rounds[:-1] if r["result"] == "不满意") > 0
    if result == "不满意" and not second_round:
        def apply(t: Ticket, at: datetime) -> None:
            t.reopen_count += 1
            t.escalation_level = 0
            t.resolved_at = t.closed_at = None
            t.resolution_breached = False
            _set(t, reply=None)
            sla.arm(session, t, sla.start_clocks(session, t, sla.ticket_calendar(session, t), at))

        perform(session, clock=clock, principal=principal, config=config, ticket=ticket, access=access,
                action="reopen_unsatisfied", note=f"来电人不满意（{via}），再次办理",
                expected_version=expected_version, apply=apply, data={"satisfaction": result})
    elif ticket.status == "resolved":
        perform(session, clock=clock, principal=principal, config=config, ticket=ticket, access=access,
                action="close", note=f"来电人评价：{result}", expected_version=expected_version,
                data={"satisfaction": result})
    else:
        trail.touch(ticket, now)
        trail.add_event(session, ticket, principal, "satisfaction", at=now, from_status=ticket.status,
                        to_status=ticket.status, note=result, data={"via": via})
        session.flush()
    return ticket
