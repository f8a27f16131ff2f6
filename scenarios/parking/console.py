"""parking's staff console pages (``app.console``) for car-park operators: their car parks with
the free spaces now (``/console/parking/lots``: free / capacity, the counter live or unknown),
a day's reservations (plates masked), the 错峰共享 contracts, exits waiting for staff (an exit
with no recorded entry at a lot whose rule is "staff decide": set its fee, it then settles as
the API's ``decide`` does), and the figures per car park and day with the revenue as a chart.

Each page runs the API's own queries and services (``access.*_seen``, ``figures.daily``,
``gate.decide``) with the API's schemas. 区交通委 and the district read the figures of every
operator, as in the API; the other pages are the operators' own.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from functools import cache

from flask import Blueprint, g, redirect, request, url_for
from werkzeug.datastructures import MultiDict

from app.api import paginate
from app.console.charts import bar_chart
from app.console.pages import NavItem, beijing_today, console_blueprint, form_args, query, render, requires
from app.context import current_clock
from app.db import get_session
from app.errors import ApiError
from auth.principal import Principal
from auth.visibility import loaded, visible_object
from scenarios.parking import figures, gate, lots, nonstop
from scenarios.parking.access import OVERSEERS, contracts_seen, plate_rows, reservations_seen
from scenarios.parking.models import PkLot, PkStay
from scenarios.parking.routes import reservation_view
from scenarios.parking.schemas import (
    ParkingDecideSchema,
    ParkingFiguresArgs,
    ParkingListArgs,
    ParkingReservationListArgs,
)
from scenarios.parking.views import contract_view, stay_view

LIVE = {"free": "有空位", "full": "已满", "unknown": "未知（计数器无数据）"}
BOOKINGS = {"confirmed": "已预约", "checked_in": "已入场", "cancelled": "已取消", "no_show": "爽约", "held": "待确认",
            "expired": "已过期"}
CONTRACTS = {"active": "有效", "cancelled": "已取消"}
PAGE_SIZE = 100


def operates_lots(p: Principal) -> bool:
    return p.is_staff and p.org_type == "parking_operator"


def reads_figures(p: Principal) -> bool:
    """Operators (their car parks) and the overseers (every one): ``figures.lots_of``'s rule."""
    return operates_lots(p) or (p.is_staff and p.org_code in OVERSEERS)


def _fen(yuan: str) -> str:
    """A fee typed in 元 (``12.5``) as the API's ``fee_fen`` (``1250``)."""
    try:
        fen = Decimal(yuan.strip()) * 100
    except InvalidOperation:
        fen = Decimal("NaN")
    if not fen.is_finite() or fen != fen.to_integral_value():
        raise ApiError("validation_error", errors={"fee_yuan": ["请填写金额（元），最多两位小数。"]})
    return str(int(fen))


@cache  # built once: its views are decorated once, whatever the apps
def blueprints() -> list[Blueprint]:
    """parking's ``console`` pages (named by ``SCENARIO.console``)."""
    nav = (NavItem("停车 · 车场余位", "console_parking.lots", operates_lots),
           NavItem("停车 · 当日预约", "console_parking.reservations", operates_lots),
           NavItem("停车 · 错峰共享", "console_parking.contracts", operates_lots),
           NavItem("停车 · 待人工放行", "console_parking.stays", operates_lots),
           NavItem("停车 · 每日统计", "console_parking.figures", reads_figures))
    blp = console_blueprint("parking", __name__, url_prefix="/console/parking", template_folder="templates", nav=nav)

    @blp.get("/lots", endpoint="lots")
    @requires(operates_lots)
    def lots_page():
        now = current_clock().now()
        rows = [(lot, lots.lot_view(lot, now, operator=g.principal.org_code))
                for lot in figures.lots_of(get_session(), g.principal)]
        return render("console/parking/lots.html", rows=rows, live=LIVE)

    @blp.get("/reservations")
    @requires(operates_lots)
    def reservations():
        args = form_args(ParkingReservationListArgs, source=query(date=beijing_today().isoformat(),
                                                                   page_size=str(PAGE_SIZE)))
        session, day, lot = get_session(), args.pop("date"), args.pop("lot")
        page = paginate(session, reservations_seen(g.principal, lot, day), args)
        items = [reservation_view(session, r, masked=True) for r in page["items"]]
        return render("console/parking/reservations.html", day=day, lot=lot or "", page=page, items=items,
                      statuses=BOOKINGS, lots=figures.lots_of(session, g.principal))

    @blp.get("/contracts")
    @requires(operates_lots)
    def contracts():
        args = form_args(ParkingListArgs, source=query(page_size=str(PAGE_SIZE)))
        session, lot = get_session(), args.pop("lot")
        page = paginate(session, contracts_seen(g.principal, lot), args)
        items = [contract_view(session, g.principal, c) for c in page["items"]]
        return render("console/parking/contracts.html", lot=lot or "", page=page, items=items, statuses=CONTRACTS,
                      lots=figures.lots_of(session, g.principal))

    @blp.get("/stays")
    @requires(operates_lots)
    def stays():
        args = form_args(ParkingListArgs, source=query(page_size=str(PAGE_SIZE)), skip=("done", "barrier"))
        session = get_session()
        stmt = plate_rows(PkStay, g.principal, args.pop("lot")).where(PkStay.status == "pending_staff",
                                                                      PkStay.fee_fen.is_(None))
        page = paginate(session, stmt, args)
        items = [stay_view(session, g.principal, s) for s in page["items"]]
        return render("console/parking/stays.html", page=page, items=items, done=request.args.get("done"),
                      barrier=request.args.get("barrier"))

    @blp.post("/stays/<int:stay_id>/decide")
    @visible_object("pk_stay", "stay_id")
    def decide(stay_id: int):
        """Set the fee of an exit waiting for staff (the API's ``decide``: the lot's operator only)."""
        stay = loaded("pk_stay")
        source = MultiDict({"fee_fen": _fen(request.form.get("fee_yuan", "")),
                            "reason": request.form.get("reason", "")})
        args = form_args(ParkingDecideSchema, source=source)
        session = get_session()
        passage = gate.decide(session, principal=g.principal, lot=session.get(PkLot, stay.lot_id), stay=stay,
                              fee_fen=args["fee_fen"], now=current_clock().now(),
                              charge_without_stopping=nonstop.charge)
        barrier = passage.barrier
        session.commit()
        return redirect(url_for("console_parking.stays", done=stay_id, barrier=barrier))

    @blp.get("/figures", endpoint="figures")
    @requires(reads_figures)
    def figures_page():
        today = beijing_today()
        args = form_args(ParkingFiguresArgs, source=query(date_from=(today - timedelta(days=6)).isoformat(),
                                                           date_to=today.isoformat()))
        items = figures.daily(get_session(), principal=g.principal, first=args["date_from"], last=args["date_to"],
                              lot=args["lot"])
        per_day: dict = defaultdict(lambda: [0, 0, 0])
        for item in items:
            for i, key in enumerate(("fees_fen", "paid_fen", "debts_fen")):
                per_day[item["date"]][i] += item[key]
        days = sorted(per_day)
        chart = bar_chart([d.strftime("%m-%d") for d in days],
                          {name: [per_day[d][i] / 100 for d in days]
                           for i, name in enumerate(("应收停车费（元）", "已收（元）", "欠费（元）"))},
                          title="每日停车收入（北京时间）", unit="元")
        return render("console/parking/figures.html", args=args, items=items, chart=chart,
                      totals={k: sum(i[k] for i in items) for k in ("fees_fen", "paid_fen", "debts_fen")})

    return [blp]
