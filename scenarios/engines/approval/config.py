"""What an approval scenario tells the engine: a frozen ``ApprovalConfig``.

``rules`` are the eligibility rules: each ``rule(session, *, principal, form)`` returns None
(passes) or a ``Refusal`` (a stable reason code, its Chinese text and the field at fault); every
failing rule is reported together (422 ``not_eligible``), so the applicant learns all at once.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from app.scenario import Scenario


@dataclass(frozen=True)
class Refusal:
    reason: str
    message: str
    field: str = "form"


@dataclass(frozen=True)
class ApprovalConfig:
    slug: str
    title_zh: str
    form_schema: type
    """A marshmallow schema class for the form (errors come back as ``form.<field>``)."""
    reviewer_for: Callable[..., int]
    """``reviewer_for(session, *, principal, form) -> organisation id`` (raises ``ApiError`` to refuse)."""
    rules: tuple[Callable[..., Refusal | None], ...] = ()
    reviewer_roles: tuple[str, ...] = ("manager",)
    review_hours: float = 24.0
    """The reviewer's deadline in working hours of the platform calendar (9:00–17:00, holidays and
    make-up working days 调休 from ``app.calendar``): 24 = three working days."""
    on_decision: Callable[..., None] | None = None
    """``on_decision(session, *, clock, application, action)`` in the deciding transaction (the
    scenario acts on an approval: a tenancy becomes approved)."""
    on_resubmit: Callable[..., None] | None = None
    """``on_resubmit(session, *, clock, application, form)`` in the resubmitting transaction, with the
    corrected form as loaded (the stored one may be masked): the scenario's own row follows it
    (raising there undoes the resubmission)."""
    applicant_kinds: tuple[str, ...] = ("resident",)
    notify_channel: str = "auto"
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def schema_prefix(self) -> str:
        return "".join(part.capitalize() for part in self.slug.split("-"))


CONFIGS: dict[str, ApprovalConfig] = {}


def register(config: ApprovalConfig) -> ApprovalConfig:
    existing = CONFIGS.get(config.slug)
    if existing is not None and existing is not config:
        raise ValueError(f"approval scenario {config.slug!r} is registered twice")
    CONFIGS[config.slug] = config
    return config


def install(configs: Iterable[ApprovalConfig]) -> None:
    for config in configs:
        register(config)


def config_for(slug: str) -> ApprovalConfig | None:
    return CONFIGS.get(slug)


def approval_scenario(config: ApprovalConfig, *, title_en: str, seed_refs: tuple[str, ...], roles: tuple[str, ...],
                      demo: str | None = None, blueprints: tuple[str, ...] = (), models: tuple[str, ...] = (),
                      jobs: tuple[str, ...] = ()) -> Scenario:
    """The ``Scenario`` of an approval scenario."""
    return Scenario(slug=config.slug, title_zh=config.title_zh, title_en=title_en, seed_refs=seed_refs,
                    engines=("approval",), roles=roles, models=models, jobs=jobs, demo=demo,
                    blueprints=blueprints, config=config)
