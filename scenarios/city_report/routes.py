"""city-report's own endpoint: the public hot-spot map (态势分析、发现规律).

``GET /api/v1/city-report/hotspots?from=&to=&category=`` counts reports per category and map
grid cell (0.01°, each cell given by its centre) over a period of Beijing dates. Public, no
login. Built only from reports whose content moderation cleared (``moderation_state``
``visible``), leaving out those rejected by staff or closed as duplicates (one problem,
counted once). Nothing personal goes out: no ids, no text, no exact points — only cells and
counts. Grouped in Python (portable across SQLite and PostgreSQL); a period is at most 366
days.
"""
from __future__ import annotations

import math
from collections import Counter
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask.views import MethodView
from sqlalchemy.orm import Session

from app.api import Blueprint
from app.db import get_session
from app.errors import ApiError
from app.fields import CST
from scenarios.city_report.schemas import CELL_DEG, MAX_DAYS, HotspotArgsSchema, HotspotSchema
from scenarios.engines.workflow.models import Ticket

SLUG = "city-report"


def _start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=CST)


def hotspots(session: Session, *, date_from: date, date_to: date, category: str | None = None) -> dict[str, Any]:
    if date_to < date_from:
        raise ApiError("validation_error", errors={"from": ["开始日期不能晚于结束日期。"]})
    if (date_to - date_from).days + 1 > MAX_DAYS:
        raise ApiError("validation_error", errors={"from": [f"时间范围最多 {MAX_DAYS} 天。"]})
    stmt = sa.select(Ticket.category, Ticket.lat, Ticket.lon).where(
        Ticket.scenario == SLUG, Ticket.moderation_state == "visible", Ticket.status.not_in(("rejected", "duplicate")),
        Ticket.lat.is_not(None), Ticket.lon.is_not(None),
        Ticket.created_at >= _start(date_from), Ticket.created_at < _start(date_to + timedelta(days=1)))
    if category:
        stmt = stmt.where(Ticket.category == category)
    counts: Counter[tuple[str, int, int]] = Counter()
    for cat, lat, lon in session.execute(stmt):
        counts[(cat, math.floor(lat / CELL_DEG), math.floor(lon / CELL_DEG))] += 1
    cells = [{"category": cat, "lat": round((i + 0.5) * CELL_DEG, 4), "lon": round((j + 0.5) * CELL_DEG, 4),
              "count": n} for (cat, i, j), n in counts.items()]
    cells.sort(key=lambda c: (-c["count"], c["category"], c["lat"], c["lon"]))
    return {"date_from": date_from, "date_to": date_to, "category": category, "cell_size_deg": CELL_DEG,
            "total": sum(counts.values()), "cells": cells}


def blueprints() -> list[Blueprint]:
    blp = Blueprint("city-report-hotspots", __name__, url_prefix=f"/api/v1/{SLUG}",
                    description="随申拍: the public hot-spot map of city reports.")

    @blp.route("/hotspots")
    class Hotspots(MethodView):
        @blp.arguments(HotspotArgsSchema, location="query")
        @blp.response(200, HotspotSchema, headers={"Cache-Control": {"schema": {"type": "string"}}})
        def get(self, args):
            """Public, no login: reports per category and 0.01° grid cell over a period (Beijing dates,
            at most 366 days; default the last 30 days). Only reports cleared by moderation; no ids,
            text or exact points."""
            today = current_app.extensions["clock"].now().astimezone(CST).date()
            date_to = args.get("date_to") or today
            date_from = args.get("date_from") or date_to - timedelta(days=29)
            body = hotspots(get_session(), date_from=date_from, date_to=date_to, category=args.get("category"))
            return body, 200, {"Cache-Control": "public, max-age=300"}

    return [blp]
