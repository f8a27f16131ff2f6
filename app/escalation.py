"""Escalation chains as data: who is told, how, and when, when nobody acts on something.

A ``Policy`` is a list of ``Step``s. Step *n* (1-based: its *level*) is due ``after`` seconds
from the chain's start (``since="start"``) or from the step before (``since="previous"``);
``after=None`` means the subject's own target (the workflow's response target, in its
calendar). The last step may repeat every ``repeat`` seconds until someone acts: level
``len(steps) + k`` is the last step again, ``k × repeat`` after it.

Each step names its recipients: ``Roles(of, roles)`` — members with ``roles`` of an
organisation the user of the policy finds from the subject by the name ``of`` (the workflow
engine knows ``owner``, ``owner_supervisor`` and ``dispatcher``; elderly-sos knows
``call_centre``, ``committee`` and ``supervisor``) — or ``Supplied(name, find)``: a callable
of the scenario (a subject's emergency contacts). ``channels`` (empty: the user's default
channel) and ``urgent`` say how they are told; ``instruction`` is a fixed phrase recorded in
the subject's trail with the attempt (``call_120``).

This module is pure: it computes due times and resolves recipients through callables it is
given. Timers, the exactly-once compare-and-set on the subject and the outbox belong to the
engine or scenario that uses it (workflow: ``scenarios/engines/workflow/escalation.py``).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from app.notify.service import Recipient

Add = Callable[[datetime, float], datetime]
"""``add(start, seconds) -> datetime``: a calendar's addition (``app.calendar.Calendar.add``)."""


def plain_add(start: datetime, seconds: float) -> datetime:
    """Round-the-clock time."""
    return start + timedelta(seconds=seconds)


@dataclass(frozen=True)
class Roles:
    """Members with one of ``roles`` of the organisation the user finds by the name ``of``."""

    of: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Supplied:
    """Recipients found by the scenario: ``find(session, subject) -> list[Recipient]``."""

    name: str
    find: Callable[..., list[Recipient]] = field(compare=False)


RecipientSpec = Roles | Supplied


@dataclass(frozen=True)
class Step:
    name: str
    recipients: tuple[RecipientSpec, ...]
    after: int | None = None
    """Seconds from ``since``; None: the subject's own target (``target`` of ``due``)."""
    since: Literal["start", "previous"] = "previous"
    channels: tuple[str, ...] = ()
    """Outbox channels, each recipient told on every one; empty: the user's default."""
    urgent: bool = True
    instruction: str | None = None
    """A fixed phrase recorded with the attempt (``call_120``: the supervisor is to call 120)."""
    repeat: int | None = None
    """Seconds between repeats of this step until someone acts (the last step only)."""


@dataclass(frozen=True)
class Policy:
    steps: tuple[Step, ...]

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError("an escalation policy needs at least one step")
        for step in self.steps[:-1]:
            if step.repeat is not None:
                raise ValueError(f"step {step.name!r}: only the last step repeats")
        last = self.steps[-1].repeat
        if last is not None and last <= 0:
            raise ValueError("a repeat interval is positive")
        for step in self.steps:
            if step.after is not None and step.after < 0:
                raise ValueError(f"step {step.name!r}: a limit is 0 or more seconds")

    @property
    def repeats(self) -> bool:
        return self.steps[-1].repeat is not None

    def step(self, level: int) -> Step | None:
        """The step of ``level`` (1-based); the last one again past the end when it repeats."""
        if level < 1:
            return None
        if level <= len(self.steps):
            return self.steps[level - 1]
        return self.steps[-1] if self.repeats else None

    def due(self, level: int, start: datetime, *, target: float | None = None, add: Add = plain_add
            ) -> datetime | None:
        """When ``level`` is due for a chain started at ``start``; None past a non-repeating end.
        A limit of 0 is due at its anchor exactly (no calendar move)."""
        if self.step(level) is None:
            return None
        due = start
        for n in range(1, level + 1):
            step = self.steps[min(n, len(self.steps)) - 1]
            if n > len(self.steps):
                anchor, seconds = due, step.repeat
            else:
                anchor = start if step.since == "start" else due
                seconds = step.after if step.after is not None else target
                if seconds is None:
                    raise ValueError(f"step {step.name!r} takes the subject's target: pass target=")
            due = anchor if not seconds else add(anchor, seconds)
        return due

    def dues(self, start: datetime, *, above: int = 0, target: float | None = None, add: Add = plain_add
             ) -> list[tuple[int, datetime]]:
        """(level, due) of the listed steps above level ``above`` (not the repeats: the user
        arms a repeat when the step before it fires, ``next_after``)."""
        return [(n, self.due(n, start, target=target, add=add))  # type: ignore[misc]
                for n in range(above + 1, len(self.steps) + 1)]

    def next_after(self, level: int, due: datetime, *, add: Add = plain_add) -> tuple[int, datetime] | None:
        """The repeat that follows ``level`` (due at ``due``), when the policy repeats past its end."""
        if not self.repeats or level < len(self.steps):
            return None
        return level + 1, add(due, self.steps[-1].repeat)  # type: ignore[arg-type]

    def due_levels(self, start: datetime, now: datetime, *, done: int = 0, target: float | None = None,
                   add: Add = plain_add, limit: int = 100) -> list[int]:
        """The levels above ``done`` that are due at ``now`` (in order; at most ``limit``)."""
        out = []
        level = done + 1
        while len(out) < limit:
            due = self.due(level, start, target=target, add=add)
            if due is None or due > now:
                break
            out.append(level)
            level += 1
        return out


Finder = Callable[[tuple[str, ...]], list[Recipient]]
"""``find(roles) -> recipients`` of one named organisation (the user binds the subject)."""


def recipients(step: Step, orgs: Mapping[str, Finder], supplied: Callable[[Supplied], list[Recipient]]
               ) -> list[Recipient]:
    """The step's recipients in the order it lists them, each once. A ``Roles`` whose
    organisation the user does not find (``orgs`` lacks the name, or finds nobody) adds none."""
    out: list[Recipient] = []
    for spec in step.recipients:
        if isinstance(spec, Roles):
            finder = orgs.get(spec.of)
            found = finder(spec.roles) if finder is not None else []
        else:
            found = supplied(spec)
        out += [r for r in found if r not in out]
    return out


def describe(policy: Policy) -> list[dict[str, Any]]:
    """The policy as JSON-ready rows (for an answer that shows a subject's limits)."""
    return [{"level": n, "name": s.name, "after_seconds": s.after, "since": s.since, "channels": list(s.channels),
             "urgent": s.urgent, "instruction": s.instruction, "repeat_seconds": s.repeat,
             "recipients": [spec.of if isinstance(spec, Roles) else spec.name for spec in s.recipients]}
            for n, s in enumerate(policy.steps, 1)]


def two_level(first: Sequence[RecipientSpec], second: Sequence[RecipientSpec]) -> Policy:
    """The workflow's default chain, started when the response target passes: the first
    recipients then, the second one target later."""
    return Policy((Step("level_1", tuple(first), after=0, since="start"),
                   Step("level_2", tuple(second), after=None, since="previous")))


CHANNEL_WORDS = {"sms": "短信", "wechat": "微信", "wecom": "企业微信", "log": "系统记录", "auto": "默认渠道"}
INSTRUCTION_WORDS = {"call_120": "拨打 120"}


def _span(seconds: int) -> str:
    if seconds % 3600 == 0 and seconds >= 3600:
        return f"{seconds // 3600} 小时"
    if seconds % 60 == 0 and seconds >= 60:
        return f"{seconds // 60} 分钟"
    return f"{seconds} 秒"


def explain(policy: Policy, *, orgs: Mapping[str, str], supplied: Mapping[str, str] | None = None,
            target: str = "时限") -> list[str]:
    """The policy in words, a sentence a step (the staff console's administrators read it):
    when each step is due, who is told (``orgs``: a ``Roles.of`` name → the organisation in
    words; ``supplied``: a ``Supplied`` name → in words), how, and the repeating last step.
    ``target``: what a step with ``after=None`` waits for (the subject's own target)."""
    from auth.roles import ROLE_TITLES

    words = dict(supplied or {})
    out = []
    for n, step in enumerate(policy.steps, 1):
        anchor = "升级开始" if step.since == "start" or n == 1 else f"第 {n - 1} 级"
        when = (f"{anchor}后再过一个{target}" if step.after is None
                else f"{anchor}时立即" if step.after == 0 else f"{anchor}后 {_span(step.after)}")
        who = "、".join(
            f"{orgs.get(spec.of, spec.of)}的{'/'.join(ROLE_TITLES.get(r, r) for r in spec.roles)}"
            if isinstance(spec, Roles) else words.get(spec.name, spec.name) for spec in step.recipients)
        how = "、".join(CHANNEL_WORDS.get(c, c) for c in step.channels) or "各自的默认渠道"
        sentence = f"第 {n} 级（{step.name}）：{when}通知{who}，经{how}{'（紧急）' if step.urgent else ''}"
        if step.instruction:
            sentence += f"，并记录指示：{INSTRUCTION_WORDS.get(step.instruction, step.instruction)}"
        out.append(sentence + "。")
    if policy.repeats:
        out.append(f"此后每 {_span(policy.steps[-1].repeat or 0)}重复第 {len(policy.steps)} 级，直到有人处理。")
    else:
        out.append(f"第 {len(policy.steps)} 级之后不再升级。")
    return out
