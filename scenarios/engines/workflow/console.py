"""The workflow engine's staff console pages (``app.console``), for every workflow scenario:
the queue (``/console/w/<slug>/queue``: sorted by due time with a live countdown, new tickets
polled in by htmx, the API's filters and search, its export), the ticket page
(``/console/tickets/<id>``, the address WeCom cards link to: trail, photos, the reporter
masked with the audited phone reveal, a form for each action the API allows), the
supervisor's escalated tickets and figures, and the district's SLA policies.

Each page calls the API's own services with the signed-in principal, parses its form with
the API's schema and runs the API's actions table (``actions.ACTIONS``): no rule is written
twice. Visibility comes first, as in the API (``visible_object``).
"""
from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

from flask import Blueprint, Response, current_app, g, redirect, request, url_for
from marshmallow import fields
from marshmallow.validate import OneOf
from werkzeug.datastructures import MultiDict

from app import chains
from app.console.chains import chain_editor
from app.console.charts import bar_chart
from app.console.pages import NavItem, console_blueprint, form_args, local_path, render, requires, with_beijing_offset
from app.context import current_clock
from app.db import get_session
from app.errors import ApiError
from app.storage.quota import daily_quota
from app.storage.service import store_image
from auth.principal import Principal
from auth.visibility import visible_object
from scenarios.engines.workflow import export, policies
from scenarios.engines.workflow import service as svc
from scenarios.engines.workflow.access import get_ticket, register_object_type
from scenarios.engines.workflow.actions import ACTIONS, RESIDENT, Action
from scenarios.engines.workflow.config import CONFIGS, WorkflowConfig, config_for
from scenarios.engines.workflow.engine_routes import list_policy_views
from scenarios.engines.workflow.models import SUBJECT, Ticket
from scenarios.engines.workflow.presenters import full, summaries, summary_rows
from scenarios.engines.workflow.routes import page_of_summaries
from scenarios.engines.workflow.routing import transfer_targets
from scenarios.engines.workflow.schemas import (
    SlaPolicyPutSchema,
    WorkflowEscalatedArgsSchema,
    WorkflowQueueArgsSchema,
    WorkflowQueueExportArgsSchema,
    WorkflowStatsArgsSchema,
)
from scenarios.engines.workflow.stats import stats as compute_stats

CST = timedelta(hours=8)
PAGE_SIZE = 50
POLL_SECONDS = 10
"""How often the queue asks for its rows (``CONSOLE_POLL_SECONDS`` overrides it: 1 in the browser tests)."""
ACTION_TITLES = {
    "create": "报修", "acknowledge": "受理", "assign": "派单", "start": "开始处理", "request-info": "请报修人补充信息",
    "resume": "恢复处理", "resolve": "处理完成", "reject": "不予受理", "duplicate": "标记为重复", "close": "办结",
    "comments": "添加备注", "priority": "调整优先级", "appointment": "预约上门时间", "transfer": "转派",
    "route": "分拨", "send-back": "退单", "reply": "答复来电人", "satisfaction": "记录满意度", "renew": "续方",
    "come-in": "请患者来院复诊",
}
CHOICE_TITLES = {"phone": "电话", "sms": "短信", "visit": "上门", "call": "电话回访"}
"""Words for the choices of a scenario action's fields (a reply's channel, a verdict's way)."""
ITEM_ROWS = 3
"""Rows of the ``items`` form (a prescription's medicines: online-consult's ``renew``)."""
LISTS = ("status", "priority")


def _poll() -> int:
    raw = current_app.extensions["settings"].get("CONSOLE_POLL_SECONDS")
    return int(raw) if raw and str(raw).isdigit() and int(raw) > 0 else POLL_SECONDS


def _config(slug: str) -> WorkflowConfig:
    config = config_for(slug)
    if config is None:
        raise ApiError("not_found")
    return config


def _handles(principal: Principal) -> bool:
    """Staff of an organisation that owns tickets (not supervisors, who have their own page)."""
    return principal.is_staff and principal.org_type not in ("bureau", "district")


def _supervises(principal: Principal) -> bool:
    return principal.is_staff and principal.role == "supervisor"


def _queue_args(*, paged: bool) -> dict[str, Any]:
    args = form_args(WorkflowQueueArgsSchema if paged else WorkflowQueueExportArgsSchema, lists=LISTS)
    if paged:
        args.setdefault("page_size", PAGE_SIZE)
    return args


def _queue_page(config: WorkflowConfig, *, count: bool = True) -> dict[str, Any]:
    """One page of the queue, as the API's ``GET /queue`` answers it. Without ``count`` (the
    poll, every few seconds from every open queue) the total is not counted: one row more than
    the page tells whether there is a next page."""
    args = _queue_args(paged=True)
    paging = {"page": args.pop("page", 1), "page_size": args.pop("page_size", PAGE_SIZE)}
    session = get_session()
    stmt = svc.queue(session, clock=current_clock(), principal=g.principal, config=config, **args)
    if count:
        page = page_of_summaries(session, stmt, paging)
        return {**page, "more": page["total"] > page["page"] * page["page_size"]}
    size = paging["page_size"]
    rows = session.execute(summary_rows(stmt).limit(size + 1).offset((paging["page"] - 1) * size)).all()
    return {**paging, "total": None, "more": len(rows) > size,
            "items": summaries(session, rows[:size], now=current_clock().now())}


def _filters() -> str:
    """The current filters as a query string (without the page), for the poll and the export."""
    return "&".join(f"{k}={v}" for k, vs in request.args.lists() if k != "page" for v in vs)


def _action_rows(config: WorkflowConfig) -> dict[str, Action]:
    rows: dict[str, Action] = {}
    for action in (*ACTIONS, *config.actions):
        if action.callers != RESIDENT and action.offered(config):
            rows[action.endpoint] = rows[action.path] = action
    return rows


def _photos(config: WorkflowConfig) -> list[str]:
    """The form's photo files stored as the signed-in member's uploads (as ``POST /api/v1/uploads``)."""
    settings = current_app.extensions["settings"]
    ids = []
    for item in request.files.getlist("photo")[:config.max_photos]:
        if item and item.filename:
            upload = store_image(get_session(), data=item.stream.read(10 * 1024 * 1024 + 1),
                                 owner_account_id=g.principal.account_id, clock=current_clock(),
                                 upload_dir=settings.upload_dir, daily_quota=daily_quota(settings))
            ids.append(upload.public_id)
    return ids


def _works_on(config: WorkflowConfig):
    """Whether a principal's organisation type is among the scenario's declared roles; a bureau
    only where it owns or routes the scenario's tickets (城运中心, 区交通委, the 12345 departments:
    its ``bureau:<role>`` declared and the role handling or dispatching), not where it only
    supervises (区房管局 for property repair: the escalated page)."""
    types = config.extra.get("org_types")
    declared = config.extra.get("roles", frozenset())
    working = {*config.handler_roles, *config.dispatcher_roles, *config.scoped_roles}

    def check(p: Principal) -> bool:
        if _handles(p):
            return types is None or p.org_type in types
        return p.is_staff and f"{p.org_type}:{p.role}" in declared and p.role in working

    return check


def _queue_config(slug: str) -> WorkflowConfig:
    """The scenario of a queue page, for those who work its tickets (403 page otherwise)."""
    config = _config(slug)
    if not (_handles(g.principal) or _works_on(config)(g.principal)):
        raise ApiError("forbidden")
    return config


def _supervises_in(config: WorkflowConfig):
    """Supervisors of an organisation type the scenario declares a role for."""
    types = config.extra.get("org_types")
    return lambda p: _supervises(p) and (types is None or p.org_type in types)


def _nav() -> tuple[NavItem, ...]:
    items = [NavItem(f"{config.title_zh} · 工单队列", "console_workflow.queue", _works_on(config), {"slug": slug})
             for slug, config in sorted(CONFIGS.items())]
    items += [NavItem(f"{config.title_zh} · 督办", "console_workflow.escalated", _supervises_in(config), {"slug": slug})
              for slug, config in sorted(CONFIGS.items())]
    items.append(NavItem("SLA 时限策略", "console_workflow.sla_policies", lambda p: p.is_district_admin))
    items.append(NavItem("升级链 · 工单场景", "console_workflow.escalation_policies", lambda p: p.is_district_admin))
    return tuple(items)


@cache  # built once: its views (and their rate limits) are decorated once, whatever the apps
def blueprints() -> list[Blueprint]:
    """The engine's ``console`` pages (named by ``ENGINE.console``)."""
    register_object_type()
    blp = console_blueprint("workflow", __name__, template_folder="templates", nav=_nav())

    @blp.get("/w/<slug>/queue")
    def queue(slug: str):
        config = _queue_config(slug)
        page = _queue_page(config)
        return render("console/workflow/queue.html", config=config, page=page, filters=_filters(),
                      args=request.args, poll=_poll(), statuses=export.STATUS_TITLES,
                      priorities=export.PRIORITY_TITLES, mine=request.args.get("assignee") == "me")

    @blp.get("/w/<slug>/queue/rows")
    def queue_rows(slug: str):
        """The queue's rows alone: what the page polls every ``POLL_SECONDS``."""
        config = _queue_config(slug)
        return render("console/workflow/queue_rows.html", config=config, page=_queue_page(config, count=False),
                      filters=_filters(), poll=_poll(), statuses=export.STATUS_TITLES,
                      priorities=export.PRIORITY_TITLES)

    @blp.get("/w/<slug>/queue/export")
    def queue_export(slug: str):
        """The API's export of the queue (the same query, rows and file)."""
        config = _queue_config(slug)
        args = _queue_args(paged=False)
        fmt = args.pop("format")
        session = get_session()
        clock = current_clock()
        stmt = svc.queue(session, clock=clock, principal=g.principal, config=config, **args)
        now = clock.now()
        body = export.write(fmt, export.rows(session, stmt, now=now), config=config)
        return Response(body, content_type=export.CONTENT_TYPES[fmt], headers={
            "Content-Disposition": f'attachment; filename="{export.filename(config, fmt, now)}"'})

    @blp.get("/tickets/<int:ticket_id>")
    @visible_object(SUBJECT, "ticket_id")
    def ticket(ticket_id: int):
        session = get_session()
        found, access = get_ticket(session, principal=g.principal, config=None, ticket_id=ticket_id)
        config = _config(found.scenario)
        view = full(session, found, access, clock=current_clock(), config=config)
        rows = _action_rows(config)
        actions = [(name, rows[name]) for name in view["allowed_actions"] if name in rows]
        actions += [(a.path, a) for a in config.actions if a.shown is not None and a.shown(found, access)]
        assignees = (svc.assignable_staff(session, principal=g.principal, config=config)
                     if "assign" in view["allowed_actions"] else [])
        targets = ([o for o in transfer_targets(session, config) if o.id != found.org_id]
                   if "transfer" in view["allowed_actions"] else [])
        links = [link for make in config.extra.get("console_links", ()) if (link := make(view)) is not None]
        return render("console/workflow/ticket.html", config=config, t=view, actions=actions, links=links,
                      titles=ACTION_TITLES, assignees=assignees, targets=targets, item_rows=range(ITEM_ROWS),
                      choices=_choices, choice_titles=CHOICE_TITLES,
                      statuses=export.STATUS_TITLES, priorities=export.PRIORITY_TITLES, revealed=None)

    @blp.post("/tickets/<int:ticket_id>/<path>")
    @visible_object(SUBJECT, "ticket_id")
    def act(ticket_id: int, path: str):
        """One row of the API's actions table, with the form loaded by the row's schema."""
        session = get_session()
        found = session.get(Ticket, ticket_id)
        config = _config(found.scenario)
        action = _action_rows(config).get(path)
        if action is None:
            raise ApiError("not_found")
        form = request.form.copy()
        version = form.pop("version", None)
        back = local_path(form.pop("next", None))  # a list page the form was on (城运中心's routing desk)
        for key in ("appointment_at", "replied_at"):
            if key in form:
                form[key] = with_beijing_offset(form[key])
        items = _items(form, action.schema)
        args = form_args(action.schema, lists=("photos",), source=form,
                         extra={"items": items} if items is not None else None)
        if "photos" in action.schema().fields and request.files:
            args["photos"] = [*args.get("photos", []), *_photos(config)]
        action.service(session, clock=current_clock(), principal=g.principal, config=config, ticket_id=ticket_id,
                       expected_version=int(version) if version and version.isdigit() else None, **args)
        session.commit()
        if back:
            return redirect(f"{back}{'&' if '?' in back else '?'}done={path}")
        return redirect(url_for("console_workflow.ticket", ticket_id=ticket_id, done=path))

    @blp.get("/w/<slug>/escalated")
    @requires(_supervises)
    def escalated(slug: str):
        config = _config(slug)
        args = form_args(WorkflowEscalatedArgsSchema)
        paging = {"page": args.pop("page", 1), "page_size": args.pop("page_size", PAGE_SIZE)}
        session = get_session()
        stmt = svc.escalated(session, clock=current_clock(), principal=g.principal, config=config, **args)
        return render("console/workflow/escalated.html", config=config, page=page_of_summaries(session, stmt, paging),
                      statuses=export.STATUS_TITLES)

    @blp.get("/w/<slug>/stats")
    @requires(lambda p: p.is_staff)
    def stats(slug: str):
        """Per company: first response median and p90, breach rate, rating, as a chart and a table."""
        config = _config(slug)
        today = (current_clock().now() + CST).date()
        query = {"from": (today - timedelta(days=29)).isoformat(), "to": today.isoformat(), **request.args.to_dict()}
        fmt = query.pop("format", None)
        args = form_args(WorkflowStatsArgsSchema, source=MultiDict(query))
        figures = compute_stats(get_session(), clock=current_clock(), principal=g.principal, config=config,
                                date_from=args["date_from"], date_to=args["date_to"], org_code=args.get("org"))
        table = _stats_table(figures)
        if fmt in export.CONTENT_TYPES:
            body = (export.to_csv(table, columns=STATS_COLUMNS) if fmt == "csv"
                    else export.to_xlsx(table, title=f"{config.title_zh} 统计", columns=STATS_COLUMNS))
            name = f"{config.slug}-stats-{args['date_from']}-{args['date_to']}.{fmt}"
            return Response(body, content_type=export.CONTENT_TYPES[fmt],
                            headers={"Content-Disposition": f'attachment; filename="{name}"'})
        orgs = figures["organisations"]
        chart = bar_chart(
            [o["org_name"] for o in orgs],
            {"首次响应中位数（分钟）": [_minutes(o["first_response_median_seconds"]) for o in orgs],
             "首次响应 P90（分钟）": [_minutes(o["first_response_p90_seconds"]) for o in orgs]},
            title=f"{config.title_zh}：各单位首次响应时间", unit="分钟")
        return render("console/workflow/stats.html", config=config, figures=figures, chart=chart, query=query,
                      table=table, columns=STATS_COLUMNS)

    @blp.route("/sla-policies", methods=["GET", "POST"])
    @requires(lambda p: p.is_district_admin)
    def sla_policies():
        """The API's SLA policies: view, and set a new version (for tickets created after it)."""
        session = get_session()
        saved = None
        if request.method == "POST":
            args = form_args(SlaPolicyPutSchema)
            config = config_for(args.pop("scenario"))
            if config is None:
                raise ApiError("validation_error", errors={"scenario": ["没有这个工单场景。"]})
            saved = policies.set_policy(session, config=config, now=current_clock().now(),
                                        actor_account_id=g.principal.account_id, **args)
            session.commit()
        items = list_policy_views(session, scenario=None, include_inactive=False)
        return render("console/workflow/sla_policies.html", items=items, configs=CONFIGS, saved=saved)

    @blp.route("/escalation-policies", methods=["GET", "POST"])
    @requires(lambda p: p.is_district_admin)
    def escalation_policies():
        """Each workflow scenario's escalation chain (the version new tickets take), in words;
        with ``?chain=<slug>``, that chain's versions and the form of a new one (``app.console.chains``)."""
        session = get_session()
        slug = request.args.get("chain")
        if slug is not None:
            config = config_for(slug)
            if config is None:
                raise ApiError("not_found")
            return chain_editor(config.chain_terms, title=f"升级链 · {config.title_zh}",
                                action_url=url_for("console_workflow.escalation_policies", chain=slug),
                                back=url_for("console_workflow.escalation_policies"))
        chains_ = []
        for _, config in sorted(CONFIGS.items()):
            version = chains.current_version(session, config.slug)
            chains_.append((config, version, config.chain_terms.explain(chains.policy(session, config.chain_terms,
                                                                                       version))))
        return render("console/workflow/escalation_policies.html", chains=chains_)

    return [blp]


def _choices(field: fields.Field) -> list[str]:
    """The values a schema field's ``OneOf`` allows: a form's options are the API's own."""
    for validator in field.validators:
        if isinstance(validator, OneOf):
            return list(validator.choices)
    return []


def _items(form: MultiDict, schema: type) -> list[dict[str, Any]] | None:
    """The ``items-<n>-<field>`` rows of a form (rows left empty dropped), popped from ``form``,
    for the action's own schema to load (its nested integers made numbers, as ``form_args``
    does); ``None`` when the form has no such rows."""
    keys = [k for k in form if k.startswith("items-")]
    if not keys:
        return None
    field = schema().fields.get("items")
    inner = getattr(getattr(field, "inner", None), "schema", None)
    integers = {n for n, f in (inner.fields.items() if inner else ()) if isinstance(f, fields.Integer)}
    rows: dict[int, dict[str, Any]] = {}
    for key in keys:
        _, index, name = [*key.split("-", 2), "", ""][:3]
        value = form.pop(key, "").strip()
        if index.isdigit() and name and value:
            rows.setdefault(int(index), {})[name] = int(value) if name in integers and value.isdigit() else value
    return [rows[i] for i in sorted(rows)]


def add_ticket_link(config: WorkflowConfig, make: Any) -> None:
    """A scenario's own page shown on its tickets' page: ``make(ticket_view)`` gives (label, URL)
    or ``None`` (a follow-up's discharge summary, a consultation's request)."""
    links = config.extra.setdefault("console_links", [])
    if make not in links:
        links.append(make)


def _minutes(seconds: float | None) -> float | None:
    return round(seconds / 60, 1) if seconds is not None else None


STATS_COLUMNS = (("单位", 28), ("工单数", 8), ("未办结", 8), ("首次响应中位数（分钟）", 14),
                 ("首次响应 P90（分钟）", 14), ("超时率", 8), ("平均评分", 8), ("评价数", 8))


def _stats_table(figures: dict[str, Any]) -> list[list[Any]]:
    """The figures as rows (under ``STATS_COLUMNS``), for the page's table and the CSV/XLSX file."""
    rows: list[list[Any]] = []
    for o in figures["organisations"]:
        rows.append([o["org_name"], o["total"], o["open"], _minutes(o["first_response_median_seconds"]),
                     _minutes(o["first_response_p90_seconds"]),
                     f"{o['breach_rate'] * 100:.1f}%" if o["breach_rate"] is not None else "—",
                     o["average_rating"] if o["average_rating"] is not None else "—", o["rated"]])
    return rows
