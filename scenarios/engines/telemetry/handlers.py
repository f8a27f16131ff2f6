"""What each HTTP route of the telemetry engine does, given its checked arguments: one
function per row of ``actions.ROUTES``, ``handler(session, *, clock, principal, config, args,
obj) -> answer`` (``obj``: the route's visible object, or None). Staff must hold one of the
scenario's ``staff_roles`` in the owning organisation (else 403)."""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.api import paginate
from app.clock import Clock
from app.errors import ApiError
from auth.models import Device
from auth.principal import Principal
from scenarios.engines.telemetry import service as svc
from scenarios.engines.telemetry.config import TelemetryConfig
from scenarios.engines.telemetry.models import TmAlert, TmReading, TmSource


def _reader(principal: Principal, config: TelemetryConfig) -> None:
    if not principal.is_staff or principal.role not in config.staff_roles:
        raise ApiError("forbidden")


def source_view(source: TmSource, uid: str) -> dict[str, Any]:
    return {"id": source.id, "kind": source.kind, "device_id": uid, "subject_type": source.subject_type,
            "subject_id": source.subject_id, "status": source.status, "latest_at": source.latest_at,
            "latest_value": source.latest_value, "heard_at": source.heard_at, "offline_since": source.offline_since}


def put_state(session: Session, *, clock: Clock, principal: Principal, config: TelemetryConfig,
              args: dict[str, Any], obj: Any = None) -> dict[str, Any]:
    return asdict(svc.report(session, clock=clock, config=config, device=principal, **args))


def post_readings(session: Session, *, clock: Clock, principal: Principal, config: TelemetryConfig,
                  args: dict[str, Any], obj: Any = None) -> dict[str, Any]:
    outcomes = svc.report_batch(session, clock=clock, config=config, device=principal, readings=args["readings"])
    return {"outcomes": [asdict(o) for o in outcomes]}


def bind(session: Session, *, clock: Clock, principal: Principal, config: TelemetryConfig,
         args: dict[str, Any], obj: Any = None) -> dict[str, Any]:
    _reader(principal, config)
    device = session.scalar(sa.select(Device).where(Device.uid == args["device_id"],
                                                    Device.organisation_id == principal.org_id))
    if device is None:
        raise ApiError("not_found", errors={"device_id": ["本组织没有这个设备。"]})
    source = svc.bind(session, config=config, kind=args["kind"], device_id=device.id,
                      subject_id=args["subject_id"], clock=clock)
    return source_view(source, device.uid)


def latest(session: Session, *, clock: Clock, principal: Principal, config: TelemetryConfig,
           args: dict[str, Any], obj: Any = None) -> dict[str, Any]:
    _reader(principal, config)
    stmt = (sa.select(TmSource, Device.uid).join(Device, Device.id == TmSource.device_id)
            .where(TmSource.scenario == config.slug, TmSource.organisation_id == principal.org_id))
    for name in ("kind", "subject_id", "status"):
        if args.get(name) is not None:
            stmt = stmt.where(getattr(TmSource, name) == args[name])
    page = paginate(session, stmt.order_by(TmSource.subject_id, TmSource.kind, TmSource.id), args, rows=True)
    return {**page, "items": [source_view(source, uid) for source, uid in page["items"]]}


def readings(session: Session, *, clock: Clock, principal: Principal, config: TelemetryConfig,
             args: dict[str, Any], obj: TmSource) -> dict[str, Any]:
    _reader(principal, config)
    stmt = sa.select(TmReading).where(TmReading.source_id == obj.id)
    if args.get("since") is not None:
        stmt = stmt.where(TmReading.at >= args["since"])
    if args.get("until") is not None:
        stmt = stmt.where(TmReading.at < args["until"])
    page = paginate(session, stmt.order_by(TmReading.at.desc()), args)
    return {**page, "items": [{"at": r.at, "value": r.value, "received_at": r.received_at} for r in page["items"]]}


def alert_list(session: Session, *, clock: Clock, principal: Principal, config: TelemetryConfig,
               args: dict[str, Any], obj: Any = None) -> dict[str, Any]:
    _reader(principal, config)
    stmt = sa.select(TmAlert).where(TmAlert.scenario == config.slug, TmAlert.organisation_id == principal.org_id)
    if args["state"] != "all":
        stmt = stmt.where(TmAlert.closed_at.is_(None) if args["state"] == "open" else TmAlert.closed_at.is_not(None))
    for name in ("kind", "subject_id"):
        if args.get(name) is not None:
            stmt = stmt.where(getattr(TmAlert, name) == args[name])
    page = paginate(session, stmt.order_by(TmAlert.opened_at.desc(), TmAlert.id.desc()), args)
    return {**page, "items": [{c: getattr(a, c) for c in ("id", "kind", "rule", "subject_type", "subject_id",
                                                          "source_id", "value", "opened_at", "closed_at")}
                              for a in page["items"]]}
