"""What a scenario tells the workflow engine about itself, and the installed configs.

A scenario builds one ``WorkflowConfig`` and declares itself with ``workflow_scenario``; the
platform installs the registered scenarios' configs at start-up (``install``), and the
engine's timer handlers and admin endpoints look them up by slug (``config_for``). Everything
scenario-specific — where a ticket is filed and who owns it (``locate``), its categories,
its own ``details`` schema, its roles and default SLA — lives here, never in the engine.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from app.chains import ChainTerms, OrgTerms
from app.chains import install as install_chains
from app.errors import ApiError
from app.escalation import Policy, Roles, Supplied, two_level
from app.scenario import Scenario
from scenarios.engines.workflow.transitions import TransitionTable, default_table

if TYPE_CHECKING:
    import marshmallow as ma

    from auth.organisations import Organisation


@dataclass
class Placement:
    """Where a new ticket is and who owns it, as decided by the scenario."""

    org: Organisation
    community_id: int | None = None
    building_id: int | None = None
    room: str | None = None
    village_id: int | None = None
    house_number: int | None = None
    lat: float | None = None
    lon: float | None = None
    address: str | None = None
    subject_person_id: int | None = None
    dispatcher: Organisation | None = None
    """The organisation that routes the ticket (区城运中心 for city reports): wherever the
    ticket goes, its staff keep seeing it and may transfer, reject or close it."""
    details: dict[str, Any] | None = None
    """Merged into the ticket's details: what ``locate`` resolved (a road's code and name…)."""
    loaded: tuple[Any, ...] = ()
    """Rows ``locate`` loaded that the answer shows (community, building…), held until the
    answer is built so the presenter finds them in the session instead of reading them again
    (the session keeps only weak references)."""


Locate = Callable[..., Placement]
"""``locate(session, *, clock, principal, data) -> Placement``; raises ``ApiError`` to refuse."""


@dataclass(frozen=True)
class Routing:
    """Where ``route`` sends a ticket: an organisation and, optionally, the account assigned."""

    org: Organisation
    assignee_account_id: int | None = None
    reason: str | None = None


Route = Callable[..., "Routing | None"]
"""``route(session, *, clock, ticket) -> Routing | None``: called once, when the ticket is
filed (or, for moderated scenarios, when its content is cleared); None leaves it where it is."""


@dataclass(frozen=True)
class SlaDefault:
    response_minutes: int
    resolution_minutes: int | None = None
    calendar: str = "24x7"
    work_start_minute: int = 9 * 60
    work_end_minute: int = 17 * 60


@dataclass(frozen=True)
class WorkflowConfig:
    slug: str
    title_zh: str
    number_prefix: str
    categories: tuple[str, ...]
    locate: Locate
    location_schema: type[ma.Schema] | None = None
    """Fields the create request carries for ``locate`` (merged into the create schema)."""
    details_schema: type[ma.Schema] | None = None
    text_max: int = 500
    max_photos: int = 9
    default_sla: SlaDefault = SlaDefault(30)
    dispatcher_roles: tuple[str, ...] = ("manager",)
    handler_roles: tuple[str, ...] = ("manager", "staff")
    assignee_roles: tuple[str, ...] = ("staff",)
    manager_roles: tuple[str, ...] = ("manager",)
    """Told of new tickets and of level-1 escalations."""
    supervisor_roles: tuple[str, ...] = ("supervisor",)
    """Members of the owning organisation's supervisor, told of level-2 escalations."""
    escalation: Policy | None = None
    """The chain when nobody responds (``app.escalation.Policy``; started when the response
    target passes; ``after=None`` is the response target in the ticket's calendar). The
    organisations a ``Roles`` step may name: ``owner``, ``owner_supervisor`` (the owner's
    supervising organisation) and ``dispatcher`` (when it is not the owner). None: the two
    levels of ``default_escalation`` (managers at the target, then the supervisors and the
    managers again one target later)."""
    transitions: TransitionTable | None = None
    duplicate_radius_m: float = 50.0
    reopen_days: int = 7
    due_soon_minutes: int = 10
    notify_channel: str = "auto"
    """Outbox channel of the scenario's notifications: ``auto`` (staff by WeCom, residents by
    WeChat subscription messages; urgent ones fall back to SMS) unless a scenario names one
    (``log`` writes a line and reaches nobody). Escalations are always sent ``urgent``."""
    urgent_new_tickets: bool = False
    """New tickets are urgent for the managers told of them (property repair: 30 minutes to
    answer), so an SMS follows when WeCom cannot reach them."""
    notify_templates: Mapping[str, str] | None = None
    """The engine's notification names (``wf.ticket_resolved``…) → the template registry's
    (``app/notify/templates.json``). None: ``notifications.REGISTRY_NAMES`` on a delivering
    channel, the engine's own names on ``log`` (nothing is rendered there)."""
    photos_required: bool = False
    moderated: bool = False
    """Text and report photos pass ``app.moderation`` (they feed something public). Refused at
    once → 422 ``content_rejected``; waiting → ``moderation_state`` ``pending``: the ticket stays
    with its first owner (not routed, hidden from other queues and from public figures) until
    cleared; refused later by staff → the ticket is rejected and the reporter told."""
    route: Route | None = None
    transfer_org_types: tuple[str, ...] = ()
    """Organisation types a ticket may be transferred to (the ``transfer`` action exists only
    when this is not empty)."""
    scoped_roles: tuple[str, ...] = ()
    """Roles that see and handle only the tickets assigned to them (or that they reported), in
    whatever organisation: a road chief and the reports on their roads."""
    staff_reporter_roles: tuple[str, ...] = ()
    """Staff roles that may file tickets too (road chiefs on patrol)."""
    sla_key: Callable[[str, Mapping[str, Any]], str] | None = None
    """The SLA policy key of a new ticket from its category and create request (default: the
    category). The hotline keys its time limits by category and urgency (``供水/urgent``)."""
    sla_defaults: Mapping[str, SlaDefault] | None = None
    """The first terms of each SLA key (a scenario's time limits as data): the key's row in
    ``wf_sla_policies`` is created from it on first use, and may then be changed like any other
    policy (``PUT /admin/sla-policies``)."""
    on_filed: Callable[..., None] | None = None
    """``on_filed(session, *, ticket, data)`` once the new ticket has its id, before routing: what
    the scenario keeps beside it (the hotline: the caller's encrypted phone)."""
    actions: tuple[Any, ...] = ()
    """The scenario's own ``actions.Action`` rows (``POST /tickets/<id>/<path>``), served by the
    engine's generic view beside ``actions.ACTIONS`` (the hotline's send-back, reply,
    satisfaction)."""
    guards: Mapping[str, Callable[..., None]] | None = None
    """Extra conditions of a transition, by action: ``guard(session, ticket)`` raises ``ApiError``
    to refuse (the hotline: no ``close`` before a reply to the caller)."""
    resolution_due: Callable[[Mapping[str, Any]], datetime | None] | None = None
    """The resolution deadline of a new ticket from its create request, instead of the policy's
    resolution minutes (a follow-up call due on a date the doctor set); missing it escalates to
    the managers as any missed resolution does. None from it: the policy's terms."""
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def policy_key(self, category: str, data: Mapping[str, Any]) -> str:
        """The SLA policy key of a new ticket (``sla_key``; the category by default)."""
        return self.sla_key(category, data) if self.sla_key is not None else category

    @property
    def table(self) -> TransitionTable:
        if self.transitions is not None:
            return self.transitions
        cached = self.extra.get("_table")
        if cached is None:
            cached = default_table(dispatchers=self.dispatcher_roles, handlers=self.handler_roles,
                                   transfer=bool(self.transfer_org_types))
            self.extra["_table"] = cached
        return cached

    @property
    def escalation_policy(self) -> Policy:
        if self.escalation is not None:
            return self.escalation
        cached = self.extra.get("_escalation")
        if cached is None:
            cached = self.extra["_escalation"] = default_escalation(self.manager_roles, self.supervisor_roles)
        return cached

    @property
    def chain_terms(self) -> ChainTerms:
        """What a district administrator may set in a new version of the chain (``app.chains``):
        the organisations ``CHAIN_ORGS`` with the scenario's roles, its declared chain's supplied
        recipients, and steps that wait one response target."""
        cached = self.extra.get("_chain_terms")
        if cached is None:
            declared = self.escalation_policy
            specs = [spec for step in declared.steps for spec in step.recipients]
            named = [r for spec in specs if isinstance(spec, Roles) for r in spec.roles]
            roles = tuple(dict.fromkeys((*self.manager_roles, *self.handler_roles, *self.dispatcher_roles,
                                         *self.supervisor_roles, *named)))
            cached = self.extra["_chain_terms"] = ChainTerms(
                key=self.slug, title_zh=self.title_zh, declared=declared,
                orgs={of: OrgTerms(words, roles) for of, words in CHAIN_ORGS.items()},
                supplied={s.name: (s.name, s) for s in specs if isinstance(s, Supplied)}, target="响应时限",
                starts="工单超过响应时限仍未响应时，升级链开始；有人响应即停止。各级时限按工单所在场景的日历计算。")
        return cached

    def template_name(self, name: str) -> str:
        """The registry's name of an engine notification on this scenario's channel."""
        from scenarios.engines.workflow.notifications import REGISTRY_NAMES

        names = self.notify_templates
        if names is None:
            names = REGISTRY_NAMES if self.notify_channel != "log" else {}
        return names.get(name, name)

    def check_text(self, text: str | None, name: str = "text", *, required: bool = True) -> str | None:
        """``text`` stripped; 422 when required and empty, or longer than ``text_max``."""
        text = (text or "").strip()
        if not text:
            if required:
                raise ApiError("validation_error", errors={name: ["不能为空。"]})
            return None
        if len(text) > self.text_max:
            raise ApiError("text_too_long", errors={name: [f"最多 {self.text_max} 个字，当前 {len(text)} 个字。"]})
        return text

    @property
    def schema_prefix(self) -> str:
        return "".join(part.capitalize() for part in self.slug.split("-"))


def default_escalation(manager_roles: tuple[str, ...], supervisor_roles: tuple[str, ...]) -> Policy:
    """Level 1: the owner's managers at the response target; level 2, one target later: the
    dispatcher's and the owner's supervising organisation's supervisors, and the managers again."""
    return two_level([Roles("owner", manager_roles)],
                     [Roles("dispatcher", supervisor_roles), Roles("owner_supervisor", supervisor_roles),
                      Roles("owner", manager_roles)])


CHAIN_ORGS = {"owner": "责任单位", "owner_supervisor": "责任单位的主管部门", "dispatcher": "派单单位"}
"""The organisations a workflow chain's ``Roles`` step names (found from the ticket), in words."""

CONFIGS: dict[str, WorkflowConfig] = {}
"""The installed scenarios' configs, by slug (the platform installs them at start-up)."""


def register(config: WorkflowConfig) -> WorkflowConfig:
    existing = CONFIGS.get(config.slug)
    if existing is not None and existing is not config:
        raise ValueError(f"workflow scenario {config.slug!r} is registered twice")
    CONFIGS[config.slug] = config
    return config


def install(configs: Iterable[WorkflowConfig]) -> None:
    """The engine's ``install``: the platform hands it its scenarios' configs at start-up."""
    configs = list(configs)
    for config in configs:
        register(config)
    install_chains([config.chain_terms for config in configs])


def config_for(slug: str) -> WorkflowConfig | None:
    return CONFIGS.get(slug)


def workflow_scenario(config: WorkflowConfig, *, title_en: str, seed_refs: tuple[str, ...],
                      roles: tuple[str, ...], demo: str | None = None, blueprints: tuple[str, ...] = (),
                      models: tuple[str, ...] = (), jobs: tuple[str, ...] = (),
                      personal_data: str | None = None, console: tuple[str, ...] = ()) -> Scenario:
    """The ``Scenario`` of a workflow scenario, its slug and Chinese title taken from ``config``.

    ``blueprints`` are the scenario's own endpoints besides the tickets the engine builds;
    ``personal_data`` its part of a person's export (for tables of its own); ``console`` its own
    console pages besides the engine's."""
    config.extra["org_types"] = frozenset(r.partition(":")[0] for r in roles if ":" in r)  # the console's pages
    config.extra["roles"] = frozenset(r for r in roles if ":" in r)
    return Scenario(slug=config.slug, title_zh=config.title_zh, title_en=title_en, seed_refs=seed_refs,
                    engines=("workflow",), roles=roles, models=models, jobs=jobs, demo=demo,
                    blueprints=blueprints, config=config, personal_data=personal_data, console=console)
