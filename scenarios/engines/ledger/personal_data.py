"""The ledger's part of a person's export: the payments they made and their refunds."""
from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.privacy.parts import PersonalData, Rows, Section, Subject, plain
from app.privacy.retention import Keep
from scenarios.engines.ledger.models import LgPaymentIntent, LgRefund


def _collect(session: Session, subject: Subject) -> Mapping[str, Rows]:
    intents = session.scalars(sa.select(LgPaymentIntent).where(LgPaymentIntent.payer_person_id == subject.person_id)
                              .order_by(LgPaymentIntent.id)).all()
    refunds = session.scalars(sa.select(LgRefund).where(LgRefund.intent_id.in_([i.id for i in intents]))
                              .order_by(LgRefund.id)).all() if intents else []
    return {"payments": [plain(i, exclude=("payer_person_id",)) for i in intents],
            "refunds": [plain(r) for r in refunds]}


PERSONAL_DATA = PersonalData(
    name="ledger", tables=("lg_payment_intents",),
    sections=(Section("payments", "支付记录"), Section("refunds", "退款记录")), collect=_collect,
    # A payment is an accounting record: kept as the law on accounting archives requires, not
    # erased with the account (the payer's other data is); a decision on anonymising the payer
    # after the archive period is owed.
    retention=(Keep("lg_payment_intents", "支付与退款记录", None, "作为会计凭证依法保存，不随账号注销删除"),),
)
