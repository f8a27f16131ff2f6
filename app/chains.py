"""Escalation chains that district administrators change: versions of a chain as rows.

A chain's user (the workflow engine for each of its scenarios, elderly-sos) describes it with
``ChainTerms``: the chain it declares in code (version 0), the names its steps may use (the
organisations a ``Roles`` step finds from the subject and the roles it may name there, the
recipients it supplies such as emergency contacts, the channels and instructions), whether a
step may wait for the subject's own target, and its own rules (elderly-sos keeps a human in
the loop). ``parse`` turns a JSON list of steps into an ``app.escalation.Policy`` or refuses it
(422 ``escalation_chain_invalid`` / ``escalation_chain_unsafe``, each error under its field:
``steps.1.recipients``); ``set_chain`` stores it as the next version (who, for which
organisation, when, why, the request: the row is the change's audit record, never edited).

A subject stores the version current when it starts (``current_version``) and escalates by it
all its life (``policy``): a new version applies to subjects created after it, as SLA policies
do. Rows never change, so a worker's batch keeps the policies it parsed (``session.info``).
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import Base, BigId, IdMixin, UTCDateTime
from app.errors import ApiError
from app.escalation import INSTRUCTION_WORDS, Policy, Roles, Step, Supplied, explain
from app.request_context import request_id

log = logging.getLogger("app.chains")

MAX_STEPS = 10
MAX_SECONDS = 7 * 86400
"""The longest step limit or repeat interval: a week."""
MIN_REPEAT = 60
"""A repeat interval is at least a minute (a repeat tells people again: not a flood)."""
NAME_MAX = 40
REASON_MAX = 300
CHANNELS = ("wecom", "wechat", "sms", "auto")
"""The channels a step may name (``log`` reaches nobody: not offered)."""


class EscalationChain(IdMixin, Base):
    """Version ``version`` (1, 2, …) of the chain ``chain``; version 0 is the declared one."""

    __tablename__ = "escalation_chains"
    __table_args__ = (
        sa.UniqueConstraint("chain", "version", name="uq_escalation_chains_chain_version"),
        sa.CheckConstraint("version >= 1", name="version_positive"),
    )

    chain: Mapped[str] = mapped_column(sa.String(60))
    version: Mapped[int] = mapped_column(sa.Integer)
    steps: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    reason: Mapped[str] = mapped_column(sa.String(REASON_MAX))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_account_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("accounts.id"))
    acting_org_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("organisations.id"))
    request_id: Mapped[str | None] = mapped_column(sa.String(64))


@dataclass(frozen=True)
class OrgTerms:
    """An organisation a ``Roles`` step may name: in words, and the roles it may name there."""

    words: str
    roles: tuple[str, ...]


Rule = Callable[[Policy], Mapping[str, list[str]]]
"""A user's own rule on a whole chain: the errors by field (empty: the chain is acceptable)."""


@dataclass(frozen=True)
class ChainTerms:
    """What a chain's user allows in a version of it (module docstring)."""

    key: str
    title_zh: str
    declared: Policy
    orgs: Mapping[str, OrgTerms]
    supplied: Mapping[str, tuple[str, Supplied]] = field(default_factory=dict)
    """A ``Supplied`` name → (words, the ``Supplied`` with its finder)."""
    target: str | None = None
    """What a step without a limit waits for, in words (the workflow's response target); None:
    every step states its limit."""
    rule: Rule | None = None
    starts: str = ""
    """When the chain starts and stops, in words (shown above its steps)."""

    def explain(self, policy: Policy) -> list[str]:
        return explain(policy, orgs={k: o.words for k, o in self.orgs.items()},
                       supplied={k: w for k, (w, _) in self.supplied.items()}, target=self.target or "时限")

    def recipient_choices(self) -> list[tuple[str, str]]:
        """(value, words) of every recipient a step may name: ``org:role`` and ``supplied:name``."""
        from auth.roles import ROLE_TITLES

        out = [(f"{of}:{role}", f"{org.words}的{ROLE_TITLES.get(role, role)}")
               for of, org in self.orgs.items() for role in org.roles]
        return out + [(f"supplied:{name}", words) for name, (words, _) in self.supplied.items()]


# ---------------------------------------------------------------- policy ⇄ JSON


def step_json(step: Step) -> dict[str, Any]:
    """A step as the API reads and writes it (a ``Roles`` naming no role, which tells nobody —
    a declared chain's ``supervisor_roles=()`` —, left out)."""
    return {"name": step.name, "after_seconds": step.after, "since": step.since,
            "recipients": [{"of": s.of, "roles": list(s.roles)} if isinstance(s, Roles) else {"supplied": s.name}
                           for s in step.recipients if not isinstance(s, Roles) or s.roles],
            "channels": list(step.channels), "urgent": step.urgent, "instruction": step.instruction,
            "repeat_seconds": step.repeat}


def policy_json(policy: Policy) -> list[dict[str, Any]]:
    return [step_json(s) for s in policy.steps]


def fingerprint(steps: list[dict[str, Any]]) -> str:
    """A short hash of a chain's steps (the console saves only the chain it previewed)."""
    return hashlib.sha256(json.dumps(steps, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def _span_ok(value: Any, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= MAX_SECONDS


def _recipient(terms: ChainTerms, raw: Any, where: str, errors: dict[str, list[str]]) -> Roles | Supplied | None:
    if not isinstance(raw, Mapping):
        errors.setdefault(where, []).append("收件人须为 {of, roles} 或 {supplied}。")
        return None
    if "supplied" in raw:
        found = terms.supplied.get(raw["supplied"])
        if found is None:
            errors.setdefault(where, []).append(
                f"未知收件人：{raw['supplied']}；可选：{', '.join(terms.supplied) or '无'}。")
            return None
        return found[1]
    org = terms.orgs.get(raw.get("of"))
    if org is None:
        errors.setdefault(where, []).append(f"未知单位：{raw.get('of')}；可选：{', '.join(terms.orgs)}。")
        return None
    roles = raw.get("roles")
    if not isinstance(roles, list) or not roles or any(r not in org.roles for r in roles):
        errors.setdefault(where, []).append(f"{org.words}可选的角色：{', '.join(org.roles)}（至少一个）。")
        return None
    return Roles(raw["of"], tuple(dict.fromkeys(roles)))


def _step(terms: ChainTerms, raw: Any, n: int, last: bool, errors: dict[str, list[str]]) -> Step | None:
    at = f"steps.{n}"
    if not isinstance(raw, Mapping):
        errors[at] = ["每一级须为一个对象。"]
        return None
    before = len(errors)
    name = raw.get("name")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= NAME_MAX:
        errors[f"{at}.name"] = [f"请填写 1–{NAME_MAX} 字的名称。"]
    after = raw.get("after_seconds")
    if after is None:
        if terms.target is None:
            errors[f"{at}.after_seconds"] = ["请填写时限（秒）。"]
    elif not _span_ok(after, 0):
        errors[f"{at}.after_seconds"] = [f"时限须为 0–{MAX_SECONDS} 秒的整数。"]
    since = raw.get("since", "previous")
    if since not in ("start", "previous"):
        errors[f"{at}.since"] = ["须为 start（从升级开始）或 previous（从上一级）。"]
    specs = [_recipient(terms, r, f"{at}.recipients", errors) for r in raw.get("recipients") or []]
    if not raw.get("recipients"):
        errors[f"{at}.recipients"] = ["每一级至少通知一方。"]
    channels = raw.get("channels") or []
    if not isinstance(channels, list) or any(c not in CHANNELS for c in channels):
        errors[f"{at}.channels"] = [f"渠道可选：{', '.join(CHANNELS)}（不选为各自的默认渠道）。"]
    instruction = raw.get("instruction")
    if instruction not in (None, "", *INSTRUCTION_WORDS):
        errors[f"{at}.instruction"] = [f"指示可选：{', '.join(INSTRUCTION_WORDS)}。"]
    repeat = raw.get("repeat_seconds")
    if repeat is not None and not last:
        errors[f"{at}.repeat_seconds"] = ["只有最后一级可以重复。"]
    elif repeat is not None and not _span_ok(repeat, MIN_REPEAT):
        errors[f"{at}.repeat_seconds"] = [f"重复间隔须为 {MIN_REPEAT}–{MAX_SECONDS} 秒的整数。"]
    urgent = raw.get("urgent", True)
    if not isinstance(urgent, bool):
        errors[f"{at}.urgent"] = ["须为 true 或 false。"]
    if len(errors) > before:
        return None
    return Step(name.strip(), tuple(dict.fromkeys(s for s in specs if s is not None)), after=after, since=since,
                channels=tuple(dict.fromkeys(channels)), urgent=urgent, instruction=instruction or None,
                repeat=repeat)


def parse(terms: ChainTerms, steps: Any) -> Policy:
    """The chain ``steps`` (``step_json`` rows) as a policy, or 422 with every error by field."""
    if not isinstance(steps, list) or not 1 <= len(steps) <= MAX_STEPS:
        raise ApiError("escalation_chain_invalid", errors={"steps": [f"升级链须有 1–{MAX_STEPS} 级。"]})
    errors: dict[str, list[str]] = {}
    parsed = [_step(terms, raw, n, n == len(steps) - 1, errors) for n, raw in enumerate(steps)]
    if errors:
        raise ApiError("escalation_chain_invalid", errors=errors)
    policy = Policy(tuple(s for s in parsed if s is not None))
    unsafe = dict(terms.rule(policy)) if terms.rule is not None else {}
    if unsafe:
        raise ApiError("escalation_chain_unsafe", errors=unsafe)
    return policy


# ---------------------------------------------------------------- versions


def current_version(session: Session, key: str) -> int:
    """The version a subject starting now takes (0: the declared chain)."""
    return session.scalar(sa.select(sa.func.max(EscalationChain.version)).where(EscalationChain.chain == key)) or 0


def policy(session: Session, terms: ChainTerms, version: int) -> Policy:
    """The chain of a subject that started under ``version``. A row that no longer parses (the
    code dropped a name it used) gives the declared chain: where in doubt, alert someone."""
    if version == 0:
        return terms.declared
    kept = session.info.setdefault("escalation_chains", {})
    if (terms.key, version) not in kept:
        steps = session.scalar(sa.select(EscalationChain.steps).where(EscalationChain.chain == terms.key,
                                                                       EscalationChain.version == version))
        try:
            kept[(terms.key, version)] = parse(terms, steps) if steps is not None else terms.declared
        except ApiError:
            log.error("escalation chain version no longer valid: the declared chain applies",
                      extra={"chain": terms.key, "version": version})
            kept[(terms.key, version)] = terms.declared
        if steps is None:
            log.error("escalation chain version missing: the declared chain applies",
                      extra={"chain": terms.key, "version": version})
    return kept[(terms.key, version)]


def set_chain(session: Session, terms: ChainTerms, *, steps: Any, reason: str | None, now: datetime,
              actor_account_id: int | None, acting_org_id: int | None) -> EscalationChain:
    """Store ``steps`` (validated by ``parse``) as the chain's next version; 409 when another
    change took that version first."""
    reason = (reason or "").strip()
    if not 2 <= len(reason) <= REASON_MAX:
        raise ApiError("escalation_chain_invalid", errors={"reason": [f"请填写 2–{REASON_MAX} 字的修改理由。"]})
    parsed = parse(terms, steps)
    row = EscalationChain(chain=terms.key, version=current_version(session, terms.key) + 1,
                          steps=policy_json(parsed), reason=reason, created_at=now,
                          created_by_account_id=actor_account_id, acting_org_id=acting_org_id,
                          request_id=request_id())
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError as exc:
        raise ApiError("conflict") from exc
    log.info("escalation chain changed", extra={"chain": terms.key, "version": row.version,
                                                "actor_account_id": actor_account_id})
    return row


def versions(session: Session, terms: ChainTerms) -> list[dict[str, Any]]:
    """Every version, newest first, each with its steps and its effect in words; the declared
    chain last (version 0, no author)."""
    rows = session.scalars(sa.select(EscalationChain).where(EscalationChain.chain == terms.key)
                           .order_by(EscalationChain.version.desc())).all()
    out = [{"version": r.version, "steps": r.steps, "explanation": terms.explain(policy(session, terms, r.version)),
            "reason": r.reason, "created_at": r.created_at, "created_by_account_id": r.created_by_account_id,
            "acting_org_id": r.acting_org_id} for r in rows]
    declared = {"version": 0, "steps": policy_json(terms.declared), "explanation": terms.explain(terms.declared),
                "reason": "代码中声明的升级链", "created_at": None, "created_by_account_id": None,
                "acting_org_id": None}
    return [*out, declared]


# ---------------------------------------------------------------- the chains there are

TERMS: dict[str, ChainTerms] = {}
"""Every changeable chain by key: the workflow engine installs its scenarios', a scenario its
own (``Scenario.escalation``), at start-up."""


def install(terms: list[ChainTerms]) -> None:
    for t in terms:
        TERMS[t.key] = t


def terms_for(key: str | None) -> ChainTerms:
    """The chain ``key``, or 422 on ``chain`` naming the chains there are."""
    found = TERMS.get(key or "")
    if found is None:
        raise ApiError("validation_error", errors={"chain": [f"没有这条升级链；可选：{', '.join(sorted(TERMS))}。"]})
    return found
