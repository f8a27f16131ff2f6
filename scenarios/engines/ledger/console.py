"""The ledger engine's staff console pages (``app.console``), for every scenario that takes
payments: an operator's money per Beijing day (``/console/ledger/daily``: payments, refunds,
net and fees per scenario, as a chart and a table, exported as the API exports them) and the
differences the notifications and the reconciliation found (``/console/ledger/discrepancies``:
an organisation's own, the district's staff every one).

The API's own services: ``figures.daily`` with its range check, ``routes.export``,
``reconcile.listed``. The differences are only listed: the API records them and never fixes
or closes one (no state to change). No object ids in these URLs.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from functools import cache

import sqlalchemy as sa
from flask import Blueprint, g

from app.console.charts import bar_chart
from app.console.pages import NavItem, beijing_today, console_blueprint, form_args, query, render, requires
from app.db import get_session
from auth.principal import Principal
from scenarios.engines.ledger import figures, reconcile
from scenarios.engines.ledger.models import LgAccount
from scenarios.engines.ledger.routes import export
from scenarios.engines.ledger.schemas import DailyArgs, DiscrepancyArgs

KINDS = {"unknown_order": "通知了未知订单", "amount_differs": "金额不符", "missing_here": "微信有、本系统无",
         "missing_there": "本系统有、微信无", "refund_abnormal": "退款异常"}
SOURCES = {"notification": "支付通知", "reconciliation": "对账单"}
DAYS_SHOWN = 14


def takes_payments(p: Principal) -> bool:
    """Staff of an organisation the ledger has an account for (it has been paid): an operator.
    One query a request, cached on ``g`` (every page draws the navigation)."""
    if not p.is_staff or p.org_id is None:
        return False
    if "_ledger_payee" not in g:
        g._ledger_payee = get_session().scalar(sa.select(LgAccount.id).where(
            LgAccount.kind == "organisation", LgAccount.owner_id == p.org_id, LgAccount.unit == "CNY")) is not None
    return g._ledger_payee


def reads_differences(p: Principal) -> bool:
    """An operator (its own differences), or the district's staff (every one, as the API)."""
    return p.is_staff and (p.org_type == "district" or takes_payments(p))


def _daily_args() -> dict:
    today = beijing_today()
    args = form_args(DailyArgs, source=query(date_from=(today - timedelta(days=DAYS_SHOWN - 1)).isoformat(),
                                             date_to=today.isoformat()))
    figures.check_range(args["date_from"], args["date_to"])
    return args


@cache  # built once: its views are decorated once, whatever the apps
def blueprints() -> list[Blueprint]:
    """The ledger's ``console`` pages (named by ``ENGINE.console``)."""
    nav = (NavItem("收支 · 每日收入", "console_ledger.daily", takes_payments),
           NavItem("收支 · 对账差异", "console_ledger.discrepancies", reads_differences))
    blp = console_blueprint("ledger", __name__, url_prefix="/console/ledger", template_folder="templates", nav=nav)

    @blp.get("/daily")
    @requires(takes_payments)
    def daily():
        args = _daily_args()
        items = figures.daily(get_session(), org_id=g.principal.org_id, date_from=args["date_from"],
                              date_to=args["date_to"])
        if args["format"] != "json":
            return export(items, args)
        per_day: dict = defaultdict(lambda: [0, 0, 0, 0])
        for item in items:
            for i, key in enumerate(("payments_fen", "refunds_fen", "net_fen", "fees_fen")):
                per_day[item["date"]][i] += item[key]
        days = sorted(per_day)
        chart = bar_chart([d.strftime("%m-%d") for d in days],
                          {name: [per_day[d][i] / 100 for d in days]
                           for i, name in enumerate(("收款（元）", "退款（元）", "净收入（元）", "手续费（元）"))},
                          title="每日收支（北京时间）", unit="元")
        totals = {key: sum(i[key] for i in items) for key in ("payments_fen", "refunds_fen", "net_fen", "fees_fen",
                                                               "net_after_fees_fen")}
        return render("console/ledger/daily.html", args=args, items=items, chart=chart, totals=totals)

    @blp.get("/discrepancies")
    @requires(reads_differences)
    def discrepancies():
        args = form_args(DiscrepancyArgs, source=query())
        rows = reconcile.listed(get_session(), principal=g.principal, day=args["date"])
        return render("console/ledger/discrepancies.html", day=args["date"], rows=rows, kinds=KINDS,
                      sources=SOURCES, limit=reconcile.LISTED, everyone=g.principal.org_type == "district")

    return [blp]
