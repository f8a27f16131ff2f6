"""hotline-12345's own console page: the hotline office's monthly figures per department
(``/console/hotline/figures?month=YYYY-MM``: on-time contact and resolution, the callers'
verdicts, orders sent back — the API's ``figures.monthly``, the office only, as in the API),
as a chart and a table. The orders themselves are the engine's pages: the office's queue (the
orders it holds, sent back ones among them; ``dispatched=true``: every order it routed, in the
navigation as 已派发工单) and the ticket page with the API's actions (transfer to a department,
the department's 退单, the reply to the caller, the caller's verdict).
"""
from __future__ import annotations

from functools import cache

from flask import Blueprint, request
from werkzeug.datastructures import MultiDict

from app.console.charts import bar_chart
from app.console.pages import NavItem, console_blueprint, form_args, render, requires
from app.context import current_clock
from app.fields import CST
from auth.principal import Principal
from scenarios.hotline_12345.catalogue import HOTLINE_OFFICE
from scenarios.hotline_12345.figures import monthly
from scenarios.hotline_12345.routes import office_only
from scenarios.hotline_12345.schemas import HotlineFiguresArgsSchema

SLUG = "hotline-12345"


def _office(p: Principal) -> bool:
    return p.is_staff and p.org_code == HOTLINE_OFFICE


def _percent(rate: float | None) -> float | None:
    return round(rate * 100, 1) if rate is not None else None


@cache  # built once: its views are decorated once, whatever the apps
def blueprints() -> list[Blueprint]:
    """hotline-12345's ``console`` pages (named by ``SCENARIO.console``)."""
    nav = (NavItem("12345 · 已派发工单", "console_workflow.queue", _office, {"slug": SLUG, "dispatched": "true"}),
           NavItem("12345 · 月度考核", "console_hotline.figures", _office))
    blp = console_blueprint("hotline", __name__, url_prefix="/console/hotline", template_folder="templates", nav=nav)

    @blp.get("/figures")
    @requires(_office)
    def figures():
        month = current_clock().now().astimezone(CST).strftime("%Y-%m")
        args = form_args(HotlineFiguresArgsSchema, source=MultiDict({"month": request.args.get("month") or month}))
        session, office = office_only()
        body = monthly(session, month=args["month"], office_id=office.id)
        departments = body["departments"]
        chart = bar_chart([d["name"] for d in departments],
                          {"按时联系率（%）": [_percent(d["contact_on_time_rate"]) for d in departments],
                           "按时办结率（%）": [_percent(d["resolution_on_time_rate"]) for d in departments],
                           "满意率（%）": [_percent(d["satisfaction_rate"]) for d in departments]},
                          title=f"{args['month']} 各承办单位考核", unit="%")
        return render("console/hotline/figures.html", month=args["month"], departments=departments, chart=chart,
                      percent=_percent)

    return [blp]
