"""``GET /api/v1/admin/worker-health``: are timers firing on time?

Timers that stop silently are the classic failure, so this reports the age of the oldest
overdue pending timer (alert on it), the counts, and the SQLite lease. For district
administrators (the district organisation's ``admin`` role).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask.views import MethodView
from sqlalchemy.orm import Session

from app.api import Blueprint, Schema, fields
from app.config import Settings
from app.db import get_session
from app.errors import ApiError
from app.timers import PENDING, Timer
from app.worker import LEASE_NAME, WorkerLease
from auth.principal import current_principal, require_staff

blp = Blueprint("worker_admin", __name__, url_prefix="/api/v1/admin",
                description="Worker health (district administrators)")


class WorkerLeaseSchema(Schema):
    holder = fields.String(required=True)
    expires_at = fields.DateTime(required=True)


class WorkerHealthSchema(Schema):
    oldest_overdue_seconds = fields.Float(
        required=True, metadata={"description": "age of the oldest pending timer past its due time; 0 if none"})
    pending_due = fields.Integer(required=True, metadata={"description": "pending timers already due"})
    pending_total = fields.Integer(required=True)
    failed_total = fields.Integer(required=True)
    lease = fields.Nested(WorkerLeaseSchema, allow_none=True, required=True,
                          metadata={"description": "the SQLite worker lease; null when none was taken"})


def worker_health(session: Session, now: datetime) -> dict[str, Any]:
    """The numbers behind the endpoint (the due ones read only the partial index)."""
    due = session.execute(
        sa.select(sa.func.count(), sa.func.min(Timer.due_at))
        .where(Timer.state == PENDING, Timer.due_at <= now)
    ).one()
    pending_total = session.scalar(sa.select(sa.func.count()).select_from(Timer).where(Timer.state == PENDING))
    failed_total = session.scalar(
        sa.select(sa.func.count()).select_from(Timer).where(Timer.state == sa.literal_column("'failed'")))
    lease = session.get(WorkerLease, LEASE_NAME)
    oldest = due[1]
    return {
        "oldest_overdue_seconds": round((now - oldest).total_seconds(), 3) if oldest is not None else 0.0,
        "pending_due": due[0],
        "pending_total": pending_total or 0,
        "failed_total": failed_total or 0,
        "lease": {"holder": lease.holder, "expires_at": lease.expires_at} if lease is not None else None,
    }


@blp.route("/worker-health")
class WorkerHealth(MethodView):
    @require_staff
    @blp.response(200, WorkerHealthSchema)
    def get(self):
        """Timer backlog and the worker lease (district administrators)."""
        if not current_principal().is_district_admin:
            raise ApiError("forbidden")
        return worker_health(get_session(), current_app.extensions["clock"].now())


def blueprints(settings: Settings) -> list[Blueprint]:
    return [blp]
