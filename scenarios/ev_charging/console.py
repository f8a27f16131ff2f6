"""ev-charging's staff console pages (``app.console``) for charger operators: their piles with
the state now (``/console/ev/piles``), the sessions started on a Beijing day (no personal
data) and revenue per day as a chart and a table — the API's ``/operator/...`` services
(``operator.require_operator`` decides who, as in the API). No object ids in these URLs: each
page shows only the acting organisation's own piles and sessions.
"""
from __future__ import annotations

from datetime import timedelta
from functools import cache
from types import SimpleNamespace

from flask import Blueprint, g

from app.api import paginate
from app.console.charts import bar_chart
from app.console.pages import NavItem, beijing_today, console_blueprint, form_args, query, render
from app.context import current_clock
from app.db import get_session
from scenarios.ev_charging import operator, piles
from scenarios.ev_charging.routes import session_view
from scenarios.ev_charging.schemas import EvOperatorPileArgs, EvOperatorSessionArgs, EvRevenueArgs

PILE_STATES = {"free": "空闲", "charging": "充电中", "fault": "故障", "offline": "离线"}
SESSION_STATES = {"charging": "充电中", "stopped": "已结束待支付", "paid": "已支付"}
PAGE_SIZE = 100


def _operates(p) -> bool:
    return p.is_staff and p.org_type == operator.OPERATOR_TYPE


@cache  # built once: its views are decorated once, whatever the apps
def blueprints() -> list[Blueprint]:
    """ev-charging's ``console`` pages (named by ``SCENARIO.console``)."""
    nav = (NavItem("充电桩 · 桩状态", "console_ev_charging.piles", _operates),
           NavItem("充电桩 · 当日充电", "console_ev_charging.sessions", _operates),
           NavItem("充电桩 · 每日收入", "console_ev_charging.revenue", _operates))
    blp = console_blueprint("ev_charging", __name__, url_prefix="/console/ev", template_folder="templates", nav=nav)

    @blp.get("/piles", endpoint="piles")
    def piles_page():
        org_id = operator.require_operator(g.principal)
        args = form_args(EvOperatorPileArgs, source=query(page_size=str(PAGE_SIZE)))
        session, now = get_session(), current_clock().now()
        page = paginate(session, piles.of_operator(org_id, state=args["state"], now=now), args, rows=True)
        items = [piles.pile_view(p, now, code) for p, code in page["items"]]
        counts: dict[str, int] = {}
        for item in items:
            counts[item["state"]] = counts.get(item["state"], 0) + 1
        return render("console/ev/piles.html", page=page, items=items, states=PILE_STATES, state=args["state"],
                      counts=counts)

    @blp.get("/sessions")
    def sessions():
        org_id = operator.require_operator(g.principal)
        args = form_args(EvOperatorSessionArgs,
                         source=query(date=beijing_today().isoformat(), page_size=str(PAGE_SIZE)))
        day = args.pop("date")
        session = get_session()
        page = paginate(session, operator.sessions_of_day(org_id, day), args, rows=True)
        items = [session_view(r, SimpleNamespace(code=code, station=station)) for r, code, station in page["items"]]
        return render("console/ev/sessions.html", day=day, page=page, items=items, states=SESSION_STATES)

    @blp.get("/revenue")
    def revenue():
        org_id = operator.require_operator(g.principal)
        today = beijing_today()
        args = form_args(EvRevenueArgs, source=query(date_from=(today - timedelta(days=13)).isoformat(),
                                                      date_to=today.isoformat()))
        figures = operator.revenue(get_session(), org_id, args["date_from"], args["date_to"])
        days = figures["days"]
        chart = bar_chart([d["date"].strftime("%m-%d") for d in days],
                          {"应收（元）": [d["billed_fen"] / 100 for d in days],
                           "已收（元）": [d["paid_fen"] / 100 for d in days]},
                          title="每日充电收入", unit="元")
        return render("console/ev/revenue.html", args=args, figures=figures, chart=chart)

    return [blp]
