"""District administrators' pages: worker health (the oldest overdue timer, the backlog) and
the urgent notices that reached nobody, from the same functions as
``GET /api/v1/admin/worker-health`` and ``GET /api/v1/admin/notify/undeliverable``."""
from __future__ import annotations

from flask import Blueprint

from app.console.pages import NavItem, console_blueprint, form_args, render, requires
from app.context import current_clock
from app.db import get_session
from app.notify.routes import UndeliverableArgs
from app.notify.undeliverable import undeliverable
from app.worker_routes import worker_health


def _admin(principal) -> bool:
    return principal.is_district_admin


def blueprints() -> list[Blueprint]:
    blp = console_blueprint("admin", __name__, nav=(NavItem("运行状况与未送达通知", "console_admin.health", _admin),))

    @blp.get("/admin/health")
    @requires(_admin)
    def health():
        args = form_args(UndeliverableArgs, skip=("org",))
        session = get_session()
        now = current_clock().now()
        return render("console/health.html", health=worker_health(session, now), days=args["days"],
                      notices=undeliverable(session, now=now, days=args["days"]))

    return [blp]
