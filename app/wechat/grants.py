"""One-time subscription grants: each accepted template allows one message.

The mini-program calls ``wx.requestSubscribeMessage({tmplIds})`` and reports what the
resident chose (``POST /api/v1/me/subscriptions``): one grant row per accepted template.
A delivery takes the oldest open grant of its (account, template) with ``FOR UPDATE SKIP
LOCKED`` (PostgreSQL; SQLite has one writer), so two workers never spend one grant twice;
it is consumed when WeChat takes the message (0) or says the quota is gone (43101), and
stays open when the send failed for another reason.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from app.notify.templates import TemplateRegistry
from app.privacy import consents
from app.wechat.models import SubscriptionGrant
from auth.models import Account

CONSENT = "wechat_subscription"
MAX_OPEN_PER_TEMPLATE = 50
"""Open grants kept per (account, template): more accepts are acknowledged but not stored."""


def validate_report(registry: TemplateRegistry, template_ids: Sequence[str], accepted: Sequence[str]) -> None:
    errors: dict[str, list[str]] = {}
    for i, tid in enumerate(template_ids):
        if tid not in registry.by_wechat_id:
            errors[f"template_ids.{i}"] = [f"未知的订阅消息模板：{tid}"]
    asked = set(template_ids)
    for i, tid in enumerate(accepted):
        if tid not in asked:
            errors[f"accepted.{i}"] = ["不在 template_ids 中。"]
    if errors:
        code = "subscription_template_unknown" if any(k.startswith("template_ids") for k in errors) \
            else "validation_error"
        raise ApiError(code, errors=errors)


def open_counts(session: Session, account_id: int) -> dict[str, int]:
    rows = session.execute(
        sa.select(SubscriptionGrant.template_id, sa.func.count())
        .where(SubscriptionGrant.account_id == account_id, SubscriptionGrant.consumed_at.is_(None))
        .group_by(SubscriptionGrant.template_id)
    )
    return {tid: n for tid, n in rows}


def record_subscriptions(session: Session, *, clock: Clock, account_id: int, registry: TemplateRegistry,
                         template_ids: Sequence[str], accepted: Sequence[str]) -> int:
    """Store one grant per accepted template. Returns how many grants were stored."""
    validate_report(registry, template_ids, accepted)
    counts = open_counts(session, account_id)
    now = clock.now()
    stored = 0
    for tid in dict.fromkeys(accepted):
        if counts.get(tid, 0) >= MAX_OPEN_PER_TEMPLATE:
            continue
        session.add(SubscriptionGrant(account_id=account_id, template_id=tid, granted_at=now))
        stored += 1
    if accepted:
        _consent(session, clock=clock, account_id=account_id)
    session.flush()
    return stored


def _consent(session: Session, *, clock: Clock, account_id: int) -> None:
    """Accepting a subscription in WeChat's own dialog is consenting to its messages: the consent
    ``wechat_subscription`` is recorded (withdrawn at ``DELETE /api/v1/me/consents``: no WeChat
    message is sent after that, ``channel.py``, until the resident accepts one again)."""
    person_id = session.scalar(sa.select(Account.person_id).where(Account.id == account_id))
    if person_id is not None:
        consents.give(session, clock=clock, person_id=person_id, account_id=account_id, purpose=CONSENT,
                      version=consents.PURPOSES[CONSENT].version)


def summary(session: Session, *, account_id: int, registry: TemplateRegistry) -> list[dict[str, Any]]:
    """Every WeChat template with the caller's open grants."""
    counts = open_counts(session, account_id)
    return [
        {"name": t.name, "title": t.title, "template_id": t.wechat.template_id,
         "available": counts.get(t.wechat.template_id, 0)}
        for t in registry.wechat_templates() if t.wechat is not None
    ]


def take_grant(session: Session, *, account_id: int, template_id: str) -> SubscriptionGrant | None:
    """The oldest open grant, locked for this transaction (others skip it), or None."""
    return session.scalars(
        sa.select(SubscriptionGrant)
        .where(SubscriptionGrant.account_id == account_id, SubscriptionGrant.template_id == template_id,
               SubscriptionGrant.consumed_at.is_(None))
        .order_by(SubscriptionGrant.granted_at, SubscriptionGrant.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()


def consume(grant: SubscriptionGrant, *, outbox_id: int | None, now: datetime) -> None:
    grant.consumed_at = now
    grant.outbox_id = outbox_id
