"""Engine-wide endpoints of the workflow engine: the caller's tickets across every workflow
scenario (``/api/v1/me/tickets``) and the district's SLA policies
(``/api/v1/admin/sla-policies``, with ``flask sla set-policy``, ``sla list`` and
``sla load-calendar``). The engine declares them (``ENGINE.blueprints``)."""
from __future__ import annotations

from typing import Any

import click
from flask import current_app
from flask.views import MethodView

from app.api import Blueprint, ErrorSchema
from app.config import Settings
from app.context import current_clock
from app.db import get_session
from app.errors import ApiError
from auth.principal import current_principal, require_resident, require_staff
from scenarios.engines.workflow import policies
from scenarios.engines.workflow import service as svc
from scenarios.engines.workflow.config import CONFIGS, WorkflowConfig, config_for
from scenarios.engines.workflow.models import SlaPolicy
from scenarios.engines.workflow.routes import page_of_summaries
from scenarios.engines.workflow.schemas import (
    SlaPolicyArgsSchema,
    SlaPolicyListSchema,
    SlaPolicyPutSchema,
    SlaPolicySchema,
    WorkflowMineArgsSchema,
    WorkflowTicketPageSchema,
)


def _err(blp: Blueprint, status: int, description: str):
    return blp.alt_response(status, schema=ErrorSchema, description=description)


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
    me = Blueprint("workflow-me", __name__, url_prefix="/api/v1/me",
                   description="The caller's tickets across every workflow scenario (服务生活圈).")

    @me.route("/tickets")
    class MyTickets(MethodView):
        @require_resident
        @me.arguments(WorkflowMineArgsSchema, location="query")
        @me.response(200, WorkflowTicketPageSchema)
        def get(self, args):
            """Everything you reported, in every workflow scenario, newest first (`open=true`: in progress)."""
            session = get_session()
            paging = {"page": args.pop("page"), "page_size": args.pop("page_size")}
            stmt = svc.mine(session, clock=current_clock(), principal=current_principal(), **args)
            return page_of_summaries(session, stmt, paging)

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
            policy = policies.set_policy(session, config=config, now=current_clock().now(),
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

