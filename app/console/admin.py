"""District administrators' pages: worker health (the oldest overdue timer, the backlog), the
urgent notices that reached nobody and the audit log of unmasked reads, from the same
functions as ``GET /api/v1/admin/worker-health``, ``…/notify/undeliverable`` and ``…/audit``."""
from __future__ import annotations

from functools import cache

from flask import Blueprint, request
from werkzeug.datastructures import MultiDict

from app.api import paginate
from app.console.pages import NavItem, console_blueprint, form_args, render, requires, with_beijing_offset
from app.context import current_clock
from app.db import get_session
from app.notify.routes import UndeliverableArgs
from app.notify.undeliverable import undeliverable
from app.worker_routes import worker_health
from auth.audit import entries as audit_entries
from auth.schemas import AuditQuerySchema


def _admin(principal) -> bool:
    return principal.is_district_admin


@cache  # built once: its views (and their rate limits) are decorated once, whatever the apps
def blueprints() -> list[Blueprint]:
    blp = console_blueprint("admin", __name__, nav=(NavItem("运行状况与未送达通知", "console_admin.health", _admin),
                                                    NavItem("个人信息查看审计", "console_admin.audit", _admin)))

    @blp.get("/admin/health")
    @requires(_admin)
    def health():
        args = form_args(UndeliverableArgs, skip=("org",))
        session = get_session()
        now = current_clock().now()
        return render("console/health.html", health=worker_health(session, now), days=args["days"],
                      notices=undeliverable(session, now=now, days=args["days"]))

    @blp.get("/admin/audit")
    @requires(_admin)
    def audit():
        """Unmasked reads, newest first, filtered as the API filters them (times in Beijing time)."""
        source = MultiDict({k: with_beijing_offset(v) if k in ("since", "until") else v
                            for k, v in request.args.items()})
        args = form_args(AuditQuerySchema, source=source)
        paging = {"page": args.pop("page", 1), "page_size": args.pop("page_size", 50)}
        page = paginate(get_session(), audit_entries(**args), paging)
        return render("console/audit.html", page=page, query=request.args)

    return [blp]
