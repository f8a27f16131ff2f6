"""Alerts: one row per episode of a rule on a source, told to the owning organisation's staff
(by role; the organisation itself when nobody holds the role) and whoever the kind's
``alert_recipients`` adds, through the outbox — once when it opens, once when it closes.

Opening is an insert under a partial unique index (one open alert per source and rule), in a
savepoint: of two transactions opening the same episode one inserts, the other finds it open.
Closing is a compare-and-set on ``closed_at``.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.clock import Clock
from app.notify.service import Recipient, enqueue
from auth.models import Account, Membership
from scenarios.engines.telemetry.config import SILENT, ReadingKind, TelemetryConfig, Threshold
from scenarios.engines.telemetry.models import TmAlert, TmSource

TEMPLATE = "telemetry_alert"
RULE_NAMES_ZH = {SILENT: "设备离线"}


def holds(threshold: Threshold, value: dict[str, Any], subject: Any) -> bool:
    """Whether the threshold's alert condition holds for ``value``."""
    if threshold.when is not None:
        return bool(threshold.when(value, subject))
    item = value.get(threshold.field or "")
    if not isinstance(item, int | float) or isinstance(item, bool):
        return False
    return ((threshold.above is not None and item > threshold.above)
            or (threshold.below is not None and item < threshold.below))


def open_rules(session: Session, source_id: int) -> set[str]:
    return set(session.scalars(sa.select(TmAlert.rule).where(TmAlert.source_id == source_id,
                                                              TmAlert.closed_at.is_(None))))


def _count(session: Session, source: TmSource, change: int) -> None:
    """Keep ``open_alerts`` with the alerts (the loaded row too, without making it dirty)."""
    now_open = session.scalar(sa.update(TmSource).where(TmSource.id == source.id)
                              .values(open_alerts=TmSource.open_alerts + change).returning(TmSource.open_alerts),
                              execution_options={"synchronize_session": False})
    set_committed_value(source, "open_alerts", now_open)


def staff(session: Session, org_id: int, roles: tuple[str, ...]) -> list[Recipient]:
    """The organisation's active members holding ``roles``; the organisation itself when none does."""
    ids = session.scalars(
        sa.select(Membership.account_id).join(Account, Account.id == Membership.account_id)
        .where(Membership.organisation_id == org_id, Membership.role.in_(roles), Membership.status == "active",
               Account.status == "active").order_by(Membership.account_id))
    found = [Recipient.account(i) for i in ids]
    return found or [Recipient("org", org_id)]


def _tell(session: Session, *, clock: Clock, config: TelemetryConfig, kind: ReadingKind, alert: TmAlert,
          subject: Any, state: str, urgent: bool) -> None:
    recipients = staff(session, alert.organisation_id, config.alert_roles)
    if kind.alert_recipients is not None:
        recipients += list(kind.alert_recipients(session, alert, subject))
    payload = {"alert_id": alert.id, "subject": f"{alert.subject_type} {alert.subject_id}",
               "rule": RULE_NAMES_ZH.get(alert.rule, alert.rule), "state": state,
               "at": (alert.closed_at or alert.opened_at).isoformat(), "ticket_no": f"TM{alert.id}"}
    enqueue(session, event_key=f"telemetry.alert.{alert.id}.{state}", template=TEMPLATE, recipients=recipients,
            clock=clock, payload=payload, channel=config.notify_channel, urgent=urgent and state == "opened")


def open_alert(session: Session, *, clock: Clock, config: TelemetryConfig, kind: ReadingKind, source: TmSource,
               rule: str, value: dict[str, Any] | None, subject: Any, urgent: bool) -> TmAlert | None:
    """Open the rule's episode on ``source`` and tell its people; None when one is open already."""
    alert = TmAlert(scenario=source.scenario, source_id=source.id, organisation_id=source.organisation_id,
                    kind=source.kind, subject_type=source.subject_type, subject_id=source.subject_id, rule=rule,
                    value=value, opened_at=clock.now())
    try:
        with session.begin_nested():
            session.add(alert)
            session.flush()
    except IntegrityError:
        return None
    _count(session, source, +1)
    _tell(session, clock=clock, config=config, kind=kind, alert=alert, subject=subject, state="opened",
          urgent=urgent)
    return alert


def close_alert(session: Session, *, clock: Clock, config: TelemetryConfig, kind: ReadingKind, source: TmSource,
                rule: str, subject: Any) -> TmAlert | None:
    """Close the rule's open episode on ``source`` (recovery) and tell its people; None when none was open."""
    now: datetime = clock.now()
    alert_id = session.scalar(sa.update(TmAlert).where(
        TmAlert.source_id == source.id, TmAlert.rule == rule, TmAlert.closed_at.is_(None))
        .values(closed_at=now).returning(TmAlert.id), execution_options={"synchronize_session": False})
    if alert_id is None:
        return None
    _count(session, source, -1)
    alert = session.get(TmAlert, alert_id, populate_existing=True)
    _tell(session, clock=clock, config=config, kind=kind, alert=alert, subject=subject, state="closed",
          urgent=False)
    return alert


def apply_thresholds(session: Session, *, clock: Clock, config: TelemetryConfig, kind: ReadingKind,
                     source: TmSource, value: dict[str, Any], stored: dict[str, Any], subject: Any) -> None:
    """Open the episodes whose condition now holds for ``value`` and close those whose condition
    stopped (an alert row keeps ``stored``: no personal field)."""
    holding = {t.name for t in kind.thresholds if holds(t, value, subject)}
    if not holding and not source.open_alerts:
        return
    already = open_rules(session, source.id)
    for threshold in kind.thresholds:
        on = threshold.name in holding
        if on and threshold.name not in already:
            open_alert(session, clock=clock, config=config, kind=kind, source=source, rule=threshold.name,
                       value=stored, subject=subject, urgent=threshold.urgent)
        elif not on and threshold.name in already:
            close_alert(session, clock=clock, config=config, kind=kind, source=source, rule=threshold.name,
                        subject=subject)
