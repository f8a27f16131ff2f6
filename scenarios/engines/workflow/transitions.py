"""The state machine as a table in code: action, from which states, to which state, by whom.

Actors are ``"reporter"`` (who filed the ticket), ``"assignee"`` (the staff member it is
assigned to), ``"dispatcher"`` (staff of the organisation that routes it, wherever it is
now) or a role name, held by a staff member acting for the owning organisation. Flags say
what an action does to the SLA clock: ``responds`` (it counts as the first response,
stopping the response clock), ``pauses`` / ``resumes`` (the ticket waits for the reporter:
remaining time is stored, then restored). A target of ``None`` means "back to the state
before the pause".

Scenarios use ``default_table(...)`` with their own roles, or pass a table of their own.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from scenarios.engines.workflow.models import STATUSES

REPORTER = "reporter"
ASSIGNEE = "assignee"
DISPATCHER = "dispatcher"


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[str]
    target: str | None
    actors: frozenset[str]
    responds: bool = False
    pauses: bool = False
    resumes: bool = False

    def __post_init__(self) -> None:
        unknown = (set(self.sources) | ({self.target} if self.target else set())) - set(STATUSES)
        if unknown:
            raise ValueError(f"{self.action}: unknown statuses {sorted(unknown)}")
        if self.target is None and not self.resumes:
            raise ValueError(f"{self.action}: only a resuming action may go back to the previous state")


class TransitionTable:
    def __init__(self, transitions: Iterable[Transition]) -> None:
        self.by_action: dict[str, Transition] = {}
        for t in transitions:
            if t.action in self.by_action:
                raise ValueError(f"action {t.action!r} declared twice")
            self.by_action[t.action] = t

    def __getitem__(self, action: str) -> Transition:
        return self.by_action[action]

    def __contains__(self, action: str) -> bool:
        return action in self.by_action

    def available(self, status: str, actors: Iterable[str]) -> list[str]:
        """Actions the given actors may take from ``status`` (for clients' buttons)."""
        actors = set(actors)
        return [a for a, t in self.by_action.items() if status in t.sources and t.actors & actors]


def _t(action: str, sources: Iterable[str], target: str | None, actors: Iterable[str], **flags: bool) -> Transition:
    return Transition(action, frozenset(sources), target, frozenset(actors), **flags)


def default_table(*, dispatchers: Iterable[str], handlers: Iterable[str], transfer: bool = False) -> TransitionTable:
    """submitted → acknowledged → assigned → in_progress → resolved → closed, with
    awaiting_reporter (clock paused), reopened, rejected and duplicate.

    ``dispatchers`` assign, reject and mark duplicates; ``handlers`` (dispatchers included)
    acknowledge, ask the reporter, resume and resolve; the assignee starts and resolves. The
    dispatching organisation's staff reject, mark duplicates and close; with ``transfer``, they
    and the owner's dispatchers move a ticket not yet assigned to another organisation (back to
    ``submitted``: the new owner responds).
    """
    dispatchers = frozenset(dispatchers)
    handlers = frozenset(handlers) | dispatchers
    workers = dispatchers | {ASSIGNEE}
    routers = dispatchers | {DISPATCHER}
    extra = [_t("transfer", {"submitted", "acknowledged", "reopened"}, "submitted", routers)] if transfer else []
    return TransitionTable([
        _t("acknowledge", {"submitted", "reopened"}, "acknowledged", handlers, responds=True),
        _t("assign", {"submitted", "acknowledged", "assigned", "in_progress", "reopened"}, "assigned",
           dispatchers, responds=True),
        _t("start", {"acknowledged", "assigned"}, "in_progress", workers),
        _t("request_info", {"acknowledged", "assigned", "in_progress"}, "awaiting_reporter",
           handlers | {ASSIGNEE}, pauses=True),
        _t("provide_info", {"awaiting_reporter"}, None, {REPORTER}, resumes=True),
        _t("resume", {"awaiting_reporter"}, None, handlers | {ASSIGNEE}, resumes=True),
        _t("resolve", {"submitted", "acknowledged", "assigned", "in_progress", "reopened"}, "resolved",
           handlers | {ASSIGNEE}, responds=True),
        _t("reject", {"submitted", "acknowledged", "assigned", "reopened"}, "rejected", routers,
           responds=True),
        _t("mark_duplicate", {"submitted", "acknowledged", "reopened"}, "duplicate", routers,
           responds=True),
        _t("confirm", {"resolved"}, "closed", {REPORTER}),
        _t("close", {"resolved"}, "closed", routers),
        _t("reopen", {"resolved", "closed"}, "reopened", {REPORTER}),
        *extra,
    ])
