"""Account cancellation (``auth.signals.person_erased``) for notifications and moderation.

- open subscription grants of the person's accounts are deleted (no one to send to);
- recorded text messages to those accounts lose their number (``to`` and ``to_masked``
  emptied); the template, parameters and times stay as the record that a message went out;
- moderation items they wrote lose their text (the owning scenario erases its own copy);
  items still waiting for review are closed as ``rejected`` ("账号已注销"), so staff do not
  review content whose author is gone.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.moderation.models import ModerationItem
from app.notify.models import OutboxMessage
from app.sms.models import SmsMessage
from app.wechat.models import SubscriptionGrant
from auth.models import Account
from auth.signals import person_erased

ERASED_TEXT = "（内容已随账号注销删除）"


@person_erased.connect
def erase_notifications(_sender: Any, *, session: Session, person_id: int, **_kw: Any) -> None:
    account_ids = list(session.scalars(sa.select(Account.id).where(Account.person_id == person_id)))
    if not account_ids:
        return
    session.execute(sa.delete(SubscriptionGrant).where(SubscriptionGrant.account_id.in_(account_ids),
                                                       SubscriptionGrant.consumed_at.is_(None)))
    outbox_ids = sa.select(OutboxMessage.id).where(OutboxMessage.recipient_kind == "account",
                                                   OutboxMessage.recipient_id.in_([str(a) for a in account_ids]))
    for message in session.scalars(sa.select(SmsMessage).where(SmsMessage.outbox_id.in_(outbox_ids))):
        message.to = ""
        message.to_masked = ""
    session.execute(sa.update(ModerationItem).where(ModerationItem.author_account_id.in_(account_ids),
                                                    ModerationItem.state == "pending_review")
                    .values(state="rejected", reason="账号已注销"))
    session.execute(sa.update(ModerationItem).where(ModerationItem.author_account_id.in_(account_ids),
                                                    ModerationItem.kind == "text")
                    .values(text=ERASED_TEXT))
    session.flush()
