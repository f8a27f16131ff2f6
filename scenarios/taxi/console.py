"""一键叫车's staff console pages for taxi companies (``app.console``), on the dispatch engine's
services: the company's drivers (``/console/taxi/drivers``: on duty, serving, how long ago the
last position came — never the position, which the API shows the company no more —, the plate
stated on duty, the account's status, and for managers disabling or re-enabling a driver, the
staff API's ``staff_admin.change``: their sessions end at once) and their rides
(``/console/taxi/rides``: state, times, the outcome — fare, who cancelled and why, unserved —
as ``dispatch.presenters.job_view`` shows them to the company: no passenger, no destination).
Who: ``agents.oversees_agents`` (a company's managers and staff, not its drivers), as the API's
``GET /agents``."""
from __future__ import annotations

from functools import cache
from typing import Any

from flask import Blueprint, g, redirect, request, url_for

from app.api import paginate
from app.console.pages import NavItem, console_blueprint, form_args, render, requires
from app.context import current_clock
from app.db import get_session
from auth import staff_admin
from auth.organisations import Organisation
from auth.principal import Principal
from auth.roles import STAFF_MANAGERS
from auth.schemas import MembershipPatchSchema
from auth.visibility import visible_object
from scenarios.engines.dispatch import agents
from scenarios.engines.dispatch.access import STAFF
from scenarios.engines.dispatch.presenters import job_view
from scenarios.engines.dispatch.schemas import DispatchJobListArgs
from scenarios.engines.dispatch.service import jobs_query

STATES = {"requested": "等待司机", "offered": "派单中", "accepted": "已接单", "arriving": "已到上车点",
          "in_trip": "行程中", "completed": "已完成", "unserved": "无司机接单", "cancelled": "已取消"}
CANCELLED_BY = {"requester": "乘客", "agent": "司机"}
PAGE_SIZE = 50


def _config() -> Any:
    from scenarios.taxi import CONFIG

    return CONFIG


def _oversees(principal: Principal) -> bool:
    return agents.oversees_agents(principal, _config())


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = int(seconds)
    return f"{s} 秒前" if s < 120 else f"{s // 60} 分钟前" if s < 7200 else f"{s // 3600} 小时前"


def _drivers(session, org: Organisation) -> list[dict[str, Any]]:
    """Every driver of the company (the staff list), with their dispatch state when they have one."""
    now = current_clock().now()
    state = {a.account_id: (a, name) for a, _username, name in
             agents.org_agents(session, principal=g.principal, config=_config())}
    members = session.scalars(staff_admin.members(org)).all()
    out = []
    for m in members:
        if m.role not in _config().agent_roles:
            continue
        agent, name = state.get(m.account_id, (None, None))
        at = agent.position_at if agent is not None else None
        out.append({"membership_id": m.id, "username": m.account.username, "name": name, "status": m.status,
                    "on_duty": bool(agent and agent.on_duty), "job_id": agent.job_id if agent else None,
                    "plate": (agent.details or {}).get("plate") if agent else None, "ever": agent is not None,
                    "outside_area": bool(agent and agent.outside_area),
                    "position_age": _age((now - at).total_seconds() if at else None),
                    "stale": at is not None and now - at > _config().position_max_age})
    return out


@cache  # built once: its views are decorated once, whatever the apps
def blueprints() -> list[Blueprint]:
    """taxi's ``console`` pages (named by ``SCENARIO.console``)."""
    nav = (NavItem("一键叫车 · 司机", "console_taxi.drivers", _oversees),
           NavItem("一键叫车 · 订单", "console_taxi.rides", _oversees))
    blp = console_blueprint("taxi", __name__, url_prefix="/console/taxi", template_folder="templates", nav=nav)

    @blp.get("/drivers")
    @requires(_oversees)
    def drivers():
        session = get_session()
        org = session.get(Organisation, g.principal.org_id)
        return render("console/taxi/drivers.html", org=org, items=_drivers(session, org),
                      manages=g.principal.role in STAFF_MANAGERS)

    @blp.post("/orgs/<code>/drivers/<int:membership_id>")
    @visible_object("membership", "code", "membership_id")
    def driver_status(code: str, membership_id: int):
        """Disable (their sessions end at once: no more positions, so no more offers) or re-enable."""
        session = get_session()
        org = staff_admin.managed_org(session, g.principal, code)
        status = form_args(MembershipPatchSchema).get("status")
        staff_admin.change(session, clock=current_clock(), principal=g.principal, org=org,
                           membership_id=membership_id, status=status)
        session.commit()
        return redirect(url_for("console_taxi.drivers", done=status))

    @blp.get("/rides")
    @requires(_oversees)
    def rides():
        """The company's drivers' rides, newest first (the API's ``GET /rides``)."""
        session, config = get_session(), _config()
        args = form_args(DispatchJobListArgs)
        stmt = jobs_query(session, principal=g.principal, config=config, status=args.pop("status"))
        page = paginate(session, stmt, {"page": args["page"], "page_size": PAGE_SIZE})
        now = current_clock().now()
        items = [job_view(session, config, job, STAFF, now=now) for job in page["items"]]
        return render("console/taxi/rides.html", page=page, items=items, states=STATES, cancelled_by=CANCELLED_BY,
                      status=request.args.get("status", ""))

    return [blp]
