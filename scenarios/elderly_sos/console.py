"""elderly-sos's staff console pages (``app.console``): the call centre's board of open alarms
by age with their limits (``/console/sos/alarms``: a live countdown, new alarms polled in by
htmx), the alarm page (``/console/sos/alarms/<id>``: the person as staff see them, the trail,
acknowledge — the dispatch engine's ``accept`` of the alarm's call —, the responder's visit and
arrival, the outcome form), the monthly acknowledgement and arrival figures, and the
enrolments (``enrolment_pages.py``: the list, the enrol form, the audited health read, ending one).

Every form runs the API's own service: ``dispatch.service.accept`` and the rows of
``routes.ALARM_ACTIONS``, loaded by the row's schema; visibility first (``visible_object``).
"""
from __future__ import annotations

from functools import cache
from typing import Any

from flask import Blueprint, current_app, g, redirect, request, url_for
from werkzeug.datastructures import MultiDict

from app.calendar import CST
from app.console.chains import chain_editor
from app.console.pages import NavItem, console_blueprint, form_args, render, requires
from app.context import current_clock
from app.db import get_session
from app.errors import ApiError
from auth.principal import Principal
from auth.visibility import load_visible, visible_object
from scenarios.elderly_sos import enrolment_pages, views
from scenarios.elderly_sos.access import (
    ALARM,
    is_call_centre_staff,
    lists_enrolments,
    register_object_types,
    sees_figures,
)
from scenarios.elderly_sos.alarms import is_responder
from scenarios.elderly_sos.models import SosAlarm
from scenarios.elderly_sos.policy import TERMS
from scenarios.elderly_sos.routes import ALARM_ACTIONS, month_bounds
from scenarios.elderly_sos.schemas import SosFiguresArgs
from scenarios.engines.dispatch import service as dispatch
from scenarios.engines.dispatch.agents import is_agent_principal

POLL_SECONDS = 5
"""How often the board asks for its rows (``CONSOLE_POLL_SECONDS`` overrides it)."""
STATES = {"open": "待应答", "acknowledged": "已应答", "visiting": "社区人员赶往中", "on_scene": "已到达",
          "closed": "已办结"}
KINDS = {"button": "一键呼叫", "device": "手环/拉绳", "inactivity": "设备长时间无信号"}
OUTCOMES = {"false_alarm": "误报", "helped_at_home": "上门处置", "taken_to_hospital": "送医", "other": "其他"}
CHAINS = {"ack": "应答超时升级", "arrival": "到达超时升级"}
EVENTS = {"raised": "呼叫", "pressed": "再次按下", "no_operator_on_duty": "无值班接线员",
          "acknowledged": "呼叫中心应答", "visit_offered": "通知社区人员上门", "visit_taken": "社区人员接单",
          "arrived": "社区人员到达",
          "closed": "办结", "escalated": "升级", "call_cancel": "呼叫取消", "call_unserved": "无人接听"}
ACTION_TITLES = {"visit": "我去上门", "arrived": "已到达", "close": "办结"}


def _config() -> Any:
    from scenarios.elderly_sos import CONFIG

    return CONFIG


def _poll() -> int:
    raw = current_app.extensions["settings"].get("CONSOLE_POLL_SECONDS")
    return int(raw) if raw and str(raw).isdigit() and int(raw) > 0 else POLL_SECONDS


def _board_reader(principal: Principal) -> bool:
    """Those who watch the board: the call centre, 区民政局, the district (committees see their
    alarms' pages from the notice they get)."""
    return sees_figures(principal)


def _board() -> list[dict[str, Any]]:
    return views.board(get_session(), g.principal, current_clock().now())


def _actions(alarm: SosAlarm) -> dict[str, bool]:
    """Which forms the page offers; the service decides again (403/409) when one is sent."""
    p, session = g.principal, get_session()
    return {"acknowledge": alarm.state == "open" and is_agent_principal(p, _config()),
            "visit": alarm.state == "acknowledged" and is_responder(session, p, alarm),
            "arrived": alarm.state == "visiting" and alarm.responder_account_id == p.account_id,
            "close": alarm.state not in ("open", "closed")
            and (is_call_centre_staff(p, alarm) or alarm.responder_account_id == p.account_id)}


@cache  # built once: its views are decorated once, whatever the apps
def blueprints() -> list[Blueprint]:
    """elderly-sos's ``console`` pages (named by ``SCENARIO.console``)."""
    register_object_types()
    nav = (NavItem("应急呼叫 · 呼叫台", "console_elderly_sos.board", _board_reader),
           NavItem("应急呼叫 · 月度统计", "console_elderly_sos.figures", sees_figures),
           NavItem("应急呼叫 · 在册老人", "console_elderly_sos.enrolments", lists_enrolments),
           NavItem("升级链 · 应急呼叫", "console_elderly_sos.escalation", lambda p: p.is_district_admin))
    blp = console_blueprint("elderly_sos", __name__, url_prefix="/console/sos", template_folder="templates", nav=nav)
    rows = {action.path: action for action in ALARM_ACTIONS}
    enrolment_pages.mount(blp)

    @blp.get("/alarms")
    @requires(_board_reader)
    def board():
        return render("console/sos/board.html", items=_board(), poll=_poll(), states=STATES, kinds=KINDS,
                      chains=CHAINS)

    @blp.get("/alarms/rows")
    @requires(_board_reader)
    def board_rows():
        """The board's rows alone: what the page polls every ``POLL_SECONDS``."""
        return render("console/sos/board_rows.html", items=_board(), poll=_poll(), states=STATES, kinds=KINDS,
                      chains=CHAINS)

    @blp.get("/alarms/<int:alarm_id>")
    @visible_object(ALARM, "alarm_id")
    def alarm(alarm_id: int):
        session = get_session()
        found = load_visible(session, g.principal, ALARM, alarm_id)
        view = views.alarm_view(session, g.principal, found, current_clock().now())
        return render("console/sos/alarm.html", a=view, actions=_actions(found), states=STATES, kinds=KINDS,
                      outcomes=OUTCOMES, events=EVENTS, chains=CHAINS, titles=ACTION_TITLES)

    @blp.post("/alarms/<int:alarm_id>/acknowledge")
    @visible_object(ALARM, "alarm_id")
    def acknowledge(alarm_id: int):
        """The dispatch engine's ``accept`` of the alarm's call: one operator wins, the others 409."""
        session = get_session()
        found = load_visible(session, g.principal, ALARM, alarm_id)
        dispatch.accept(session, clock=current_clock(), principal=g.principal, config=_config(), job_id=found.job_id)
        session.commit()
        return redirect(url_for("console_elderly_sos.alarm", alarm_id=alarm_id, done="acknowledge"))

    @blp.post("/alarms/<int:alarm_id>/<path>")
    @visible_object(ALARM, "alarm_id")
    def act(alarm_id: int, path: str):
        """One row of the API's ``ALARM_ACTIONS`` (visit, arrived, close), its form loaded by the row's schema."""
        action = rows.get(path)
        if action is None:
            raise ApiError("not_found")
        session = get_session()
        action.service(session, clock=current_clock(), principal=g.principal, alarm_id=alarm_id, config=_config(),
                       **form_args(action.schema))
        session.commit()
        return redirect(url_for("console_elderly_sos.alarm", alarm_id=alarm_id, done=path))

    @blp.get("/figures")
    @requires(sees_figures)
    def figures():
        """The API's ``GET /figures`` of a month (this month by default, Beijing time)."""
        month = request.args.get("month") or current_clock().now().astimezone(CST).strftime("%Y-%m")
        args = form_args(SosFiguresArgs, source=MultiDict({"month": month}))
        start, end = month_bounds(args["month"])
        return render("console/sos/figures.html", month=args["month"], f=views.figures(get_session(), start, end),
                      outcomes=OUTCOMES)

    @blp.route("/escalation", methods=["GET", "POST"])
    @requires(lambda p: p.is_district_admin)
    def escalation():
        """The chain (``policy.TERMS``: the version new alarms take) in words, its versions, and the
        form of a new one (``app.console.chains``: previewed, refused unless a human stays in the loop)."""
        return chain_editor(TERMS, title="升级链 · 高龄老人应急呼叫",
                            action_url=url_for("console_elderly_sos.escalation"))

    return [blp]

