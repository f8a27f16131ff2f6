"""Submit a subject's texts and photos for moderation; staff and WeChat decide; the owner learns.

``submit(session, subject_type=…, subject_id=…, texts=[…], uploads=[…], clock=…,
author_account_id=…)`` → the subject's state:

- ``rejected`` when any item is rejected (a keyword hit, WeChat ``risky``, staff);
- ``pending_review`` while any item waits (WeChat ``review``, a photo under the local
  filter, a photo whose asynchronous WeChat check has not answered);
- ``cleared`` when every item is cleared (or there was nothing to check).

A subject is submitted once; to check edited content, ``withdraw`` it first. Staff decide
items in ``pending_review`` only (a compare-and-set: a second decision is 409), and the
asynchronous WeChat verdict is ignored once staff have decided. Whenever a decision changes
a subject's state to ``cleared`` or ``rejected``, ``moderation_decided`` is sent in the
deciding transaction, with the subject type as the sender::

    @moderation_decided.connect_via("city_report")
    def on_decided(subject_type, *, session, subject_id, state, clock): ...

``submit`` itself sends nothing: its caller has the state in hand.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from blinker import Namespace
from flask import current_app
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from app.moderation.keywords import keyword_moderator
from app.moderation.models import ModerationItem
from app.moderation.verdicts import SCENE_FORUM, ModerationContext, Moderator, Verdict
from app.storage.models import Upload
from app.wechat.callback import on_event
from auth.models import Account

_signals = Namespace()
moderation_decided = _signals.signal("moderation-decided")

STATE_OF_SUGGESTION = {"pass": "cleared", "risky": "rejected", "review": "pending_review",
                       "pending": "pending_review"}
DECISIONS = ("cleared", "rejected")


def current_moderator(session: Session | None = None) -> Moderator:
    """The configured moderator: ``MODERATION_PROVIDER`` = keyword (default) | wechat."""
    settings = current_app.extensions["settings"]
    keywords = keyword_moderator(settings)
    if (settings.get("MODERATION_PROVIDER") or "keyword") == "wechat":
        from app.moderation.wechat import WechatModerator
        from app.wechat.client import wechat_api

        return WechatModerator(wechat_api(), keywords, session)
    return keywords


def _context(session: Session, author_account_id: int | None, scene: int) -> ModerationContext:
    account = session.get(Account, author_account_id) if author_account_id else None
    openid = account.openid if account is not None and account.kind == "wechat" else None
    return ModerationContext(account_id=author_account_id, openid=openid, scene=scene)


def _item(subject_type: str, subject_id: str, verdict: Verdict, now: Any, **content: Any) -> ModerationItem:
    state = STATE_OF_SUGGESTION.get(verdict.suggest, "pending_review")
    return ModerationItem(
        subject_type=subject_type, subject_id=subject_id, state=state, provider=verdict.provider,
        suggest=verdict.suggest, label=verdict.label, reason=(verdict.reason or None) and verdict.reason[:300],
        trace_id=verdict.trace_id, decided_at=None if state == "pending_review" else now, **content,
    )


def submit(
    session: Session,
    *,
    subject_type: str,
    subject_id: str | int,
    clock: Clock,
    texts: Sequence[str] = (),
    uploads: Sequence[Upload] = (),
    author_account_id: int | None = None,
    scene: int = SCENE_FORUM,
    moderator: Moderator | None = None,
) -> str:
    """Check and record each non-blank text and each photo; returns the subject's state.

    Runs in the caller's transaction; with WeChat configured it makes one HTTP call per text
    piece and per photo (short timeouts; on failure the item waits for staff).
    """
    moderator = moderator or current_moderator(session)
    context = _context(session, author_account_id, scene)
    sid, now = str(subject_id), clock.now()
    for text in texts:
        if text and text.strip():
            verdict = moderator.check_text(text, context=context)
            session.add(_item(subject_type, sid, verdict, now, kind="text", text=text,
                              author_account_id=author_account_id))
    for upload in uploads:
        verdict = moderator.check_media(upload, context=context)
        session.add(_item(subject_type, sid, verdict, now, kind="media", upload_id=upload.id,
                          author_account_id=author_account_id))
    session.flush()
    return subject_state(session, subject_type=subject_type, subject_id=sid)


def subject_state(session: Session, *, subject_type: str, subject_id: str | int) -> str:
    states = set(session.scalars(
        sa.select(ModerationItem.state).where(ModerationItem.subject_type == subject_type,
                                              ModerationItem.subject_id == str(subject_id)).distinct()))
    if "rejected" in states:
        return "rejected"
    if "pending_review" in states:
        return "pending_review"
    return "cleared"


def withdraw(session: Session, *, subject_type: str, subject_id: str | int) -> int:
    """Forget a subject's items (before submitting edited content). Returns how many."""
    result = session.execute(sa.delete(ModerationItem).where(ModerationItem.subject_type == subject_type,
                                                             ModerationItem.subject_id == str(subject_id)))
    return result.rowcount or 0


def _decide(session: Session, item: ModerationItem, *, state: str, clock: Clock, decided_by: int | None,
            reason: str | None, suggest: str | None = None, label: str | None = None) -> bool:
    """Compare-and-set an item out of ``pending_review``; notify when the subject's state changes."""
    before = subject_state(session, subject_type=item.subject_type, subject_id=item.subject_id)
    values: dict[str, Any] = {"state": state, "decided_by": decided_by, "decided_at": clock.now(),
                              "updated_at": clock.now()}
    if reason is not None:
        values["reason"] = reason[:300]
    if suggest is not None:
        values["suggest"] = suggest
    if label is not None:
        values["label"] = label
    result = session.execute(
        sa.update(ModerationItem).where(ModerationItem.id == item.id, ModerationItem.state == "pending_review")
        .values(**values).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        return False
    session.refresh(item)
    after = subject_state(session, subject_type=item.subject_type, subject_id=item.subject_id)
    if after != before and after != "pending_review":
        moderation_decided.send(item.subject_type, session=session, subject_id=item.subject_id, state=after,
                                clock=clock)
    return True


def decide(session: Session, *, item_id: int, decision: str, clock: Clock, staff_account_id: int,
           reason: str | None = None) -> ModerationItem:
    """A staff decision (``cleared`` | ``rejected``) on an item waiting for review; 409 otherwise."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {DECISIONS}")
    item = session.get(ModerationItem, item_id)
    if item is None:
        raise ApiError("not_found")
    if not _decide(session, item, state=decision, clock=clock, decided_by=staff_account_id, reason=reason):
        raise ApiError("moderation_already_decided")
    return item


def apply_media_result(session: Session, *, trace_id: str, verdict: Verdict, clock: Clock) -> bool:
    """WeChat's asynchronous verdict on a photo. False when no item waits for it."""
    item = session.scalar(sa.select(ModerationItem).where(ModerationItem.trace_id == trace_id))
    if item is None or item.state != "pending_review" or item.suggest != "pending":
        return False
    state = STATE_OF_SUGGESTION.get(verdict.suggest, "pending_review")
    if state == "pending_review":  # WeChat wants a human: staff see its reason
        session.execute(sa.update(ModerationItem).where(ModerationItem.id == item.id)
                        .values(suggest=verdict.suggest, label=verdict.label, reason=verdict.reason[:300] or None,
                                updated_at=clock.now()).execution_options(synchronize_session=False))
        return True
    return _decide(session, item, state=state, clock=clock, decided_by=None, reason=verdict.reason or None,
                   suggest=verdict.suggest, label=verdict.label)


@on_event("wxa_media_check")
def _on_media_check(session: Session, event: dict[str, Any], clock: Clock) -> None:
    from app.moderation.wechat import verdict_from_result

    trace_id = event.get("trace_id")
    if not isinstance(trace_id, str) or not trace_id:
        return
    if event.get("errcode", 0) not in (0, None):
        verdict = Verdict("review", reason=f"微信图片审核失败 {event.get('errcode')}，待人工审核", provider="wechat")
    else:
        verdict = verdict_from_result(event.get("result"))
    apply_media_result(session, trace_id=trace_id[:128], verdict=verdict, clock=clock)


def queue(*, state: str, subject_type: str | None = None, kind: str | None = None) -> sa.Select:
    """Items in ``state``, oldest first (the API's moderation queue and the console's)."""
    stmt = sa.select(ModerationItem).where(ModerationItem.state == state)
    if subject_type is not None:
        stmt = stmt.where(ModerationItem.subject_type == subject_type)
    if kind is not None:
        stmt = stmt.where(ModerationItem.kind == kind)
    return stmt.order_by(ModerationItem.created_at, ModerationItem.id)
