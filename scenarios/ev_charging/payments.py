"""The session's fee, charged through the ledger (``scenarios.engines.ledger.purposes``).

A stopped session with a fee gets a payment intent, payer the person, payee the pile's operator;
the resident pays it in the mini-program (``POST /api/v1/payments/<id>/pay``). The intent lives
``PAY_WITHIN``: a charging fee is a debt the car already took, not a hold to release, so an
unpaid one stays ``stopped`` for the operator to collect. ``on_paid`` (whichever path books the
payment: the pay route, WeChat Pay's notification, the query job) marks the session ``paid``,
once: the ledger calls it only from the compare-and-set that won.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from scenarios.engines.ledger import purposes
from scenarios.ev_charging.models import SESSION_SUBJECT, EvPile, EvSession

PAY_WITHIN = timedelta(days=7)
SLUG = "ev-charging"


def _paid(session: Session, intent: Any, now: datetime) -> None:
    session.execute(sa.update(EvSession).where(EvSession.id == int(intent.subject_id),
                                               EvSession.status == "stopped")
                    .values(status="paid", paid_at=now))


EV_SESSION_FEE = purposes.register(purposes.PaymentPurpose(kind=SESSION_SUBJECT, on_paid=_paid))


def charge(session: Session, row: EvSession, pile: EvPile, *, now: datetime) -> Any:
    """The intent for the session's fee (the caller's transaction)."""
    return purposes.charge(session, EV_SESSION_FEE, subject_id=row.id, scenario=SLUG, payer_person_id=row.person_id,
                           payee_org_id=pile.operator_org_id, amount_fen=row.fee_fen,
                           description=f"充电费 {pile.station}{pile.name}"[:60], now=now, expires_in=PAY_WITHIN)
