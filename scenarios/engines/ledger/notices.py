"""What the ledger tells a payer, through the outbox: a refund that reached them
(``payment_refunded``) or one WeChat Pay could not return (``payment_refund_abnormal``).
Once per refund and recipient (the event key), whoever sold; the payload holds the payment's
description and amounts, never personal data."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import FrozenClock
from app.notify.service import Notice, Recipient, enqueue_many
from auth.models import Account
from scenarios.engines.ledger.models import LgPaymentIntent, LgRefund


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}元"


def tell_refund(session: Session, intent: LgPaymentIntent, refund: LgRefund, *, template: str,
                now: datetime) -> int:
    """Enqueue ``template`` about ``refund`` for the payer's accounts (returns rows enqueued)."""
    accounts = session.scalars(sa.select(Account.id).where(Account.person_id == intent.payer_person_id,
                                                           Account.kind != "staff", Account.status == "active"))
    recipients = tuple(Recipient.account(a) for a in sorted(accounts))
    payload = {"payment_id": intent.id, "payment_no": intent.out_trade_no, "description": intent.description[:20],
               "amount": _yuan(refund.amount_fen), "scenario": intent.scenario}
    return enqueue_many(session, [Notice(f"{template}:{refund.id}", template, recipients, payload, channel="auto")],
                        clock=FrozenClock(now))
