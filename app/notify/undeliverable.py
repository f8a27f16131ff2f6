"""Who an urgent notice could not reach, and why: so someone fixes their contact points.

A notice is an (event, recipient); its outbox rows are its attempts on each channel (WeCom or
WeChat, then SMS as the urgent fallback). It is undeliverable when every attempt has ended and
none was sent (``failed``, ``no_grant``, ``skipped``). District administrators see all of them;
an organisation's managers and admins those of their own staff (and of the organisation itself,
when nobody held the role a notice was meant for).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.notify.models import OutboxMessage
from auth.models import Account, Membership
from auth.organisations import Organisation

ENDED = ("failed", "no_grant", "skipped")
MAX_DAYS = 90


def undeliverable(session: Session, *, now: datetime, days: int, org_id: int | None = None,
                  limit: int = 500) -> list[dict[str, Any]]:
    """The undeliverable urgent notices of the last ``days`` days, newest first; with ``org_id``,
    only those meant for its staff or for the organisation itself."""
    since = now - timedelta(days=days)
    o = OutboxMessage
    groups = (sa.select(o.event_key, o.recipient_kind, o.recipient_id)
              .where(o.urgent.is_(True), o.created_at >= since)
              .group_by(o.event_key, o.recipient_kind, o.recipient_id)
              .having(sa.func.sum(sa.case((o.state.in_(ENDED), 0), else_=1)) == 0))
    if org_id is not None:
        staff = sa.select(sa.cast(Membership.account_id, sa.String)).where(Membership.organisation_id == org_id)
        groups = groups.where(sa.or_(sa.and_(o.recipient_kind == "account", o.recipient_id.in_(staff)),
                                     sa.and_(o.recipient_kind == "org", o.recipient_id == str(org_id))))
    keys = session.execute(groups.limit(limit)).all()
    if not keys:
        return []
    rows = session.scalars(sa.select(o).where(sa.tuple_(o.event_key, o.recipient_kind, o.recipient_id).in_(
        [tuple(k) for k in keys])).order_by(o.id)).all()
    attempts: dict[tuple[str, str, str], list[OutboxMessage]] = {}
    for row in rows:
        attempts.setdefault((row.event_key, row.recipient_kind, row.recipient_id), []).append(row)
    accounts = {a.id: a for a in session.scalars(sa.select(Account).where(Account.id.in_(
        [int(k[2]) for k in keys if k[1] == "account"])))}
    orgs = {g.id: g for g in session.scalars(sa.select(Organisation).where(Organisation.id.in_(
        [int(k[2]) for k in keys if k[1] == "org"])))}
    out = []
    for key, tries in attempts.items():
        kind, rid = key[1], int(key[2])
        who: dict[str, Any] = {"kind": kind, "id": rid}
        if kind == "account" and rid in accounts:
            account = accounts[rid]
            who.update(username=account.username if account.kind == "staff" else None, account_kind=account.kind)
        elif kind == "org" and rid in orgs:
            who.update(org_code=orgs[rid].code, org_name=orgs[rid].name)
        out.append({
            "event_key": key[0], "template": tries[0].template, "recipient": who,
            "attempts": [{"channel": t.channel, "state": t.state, "reason": t.last_error} for t in tries],
            "first_at": tries[0].created_at, "last_at": max(t.updated_at for t in tries),
        })
    out.sort(key=lambda item: item["last_at"], reverse=True)
    return out
