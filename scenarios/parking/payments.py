"""What parking sells through the ledger and what a booked payment changes here.

- ``pk_stay``: the fee of a stay paid in the mini-program before leaving (the amount owed when
  asked; it holds for ``gate.PAID_HOLDS``);
- ``pk_debt``: a debt the barrier let go, paid later;
- ``pk_contract``: a 错峰共享 contract's fee; an intent that closes unpaid cancels the contract.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.errors import ApiError
from auth.principal import Principal
from scenarios.engines.ledger import purposes
from scenarios.engines.ledger.models import LgPaymentIntent
from scenarios.parking.models import PkContract, PkDebt, PkLot, PkStay

SLUG = "parking"


def _stay_paid(session: Session, intent: LgPaymentIntent, now: datetime) -> None:
    session.execute(sa.update(PkStay).where(PkStay.id == int(intent.subject_id)).values(
        paid_fen=PkStay.paid_fen + intent.amount_fen, paid_at=now, payment_id=intent.id))
    session.execute(sa.update(PkStay).where(PkStay.id == int(intent.subject_id), PkStay.status == "pending_staff",
                                            PkStay.fee_fen <= PkStay.paid_fen).values(status="paid",
                                                                                      settled_by="paid_later"))


def _stay_closed(session: Session, intent: LgPaymentIntent, now: datetime) -> None:
    """A deduction WeChat Pay accepted at the barrier and then failed: what it owes is a debt."""
    stay = session.get(PkStay, int(intent.subject_id), populate_existing=True)
    if stay is None or stay.settled_by != "wechat_parking" or stay.paid_fen >= (stay.fee_fen or 0):
        return
    if session.scalar(sa.select(PkDebt.id).where(PkDebt.stay_id == stay.id)) is None:
        session.add(PkDebt(stay_id=stay.id, lot_id=stay.lot_id, plate_hash=stay.plate_hash,
                           amount_fen=stay.fee_fen - stay.paid_fen, reason="deduction_failed", status="open",
                           created_at=now))
    stay.status = "debt"


def _debt_paid(session: Session, intent: LgPaymentIntent, now: datetime) -> None:
    session.execute(sa.update(PkDebt).where(PkDebt.id == int(intent.subject_id), PkDebt.status == "open")
                    .values(status="paid", settled_at=now, payment_id=intent.id))


def _contract_paid(session: Session, intent: LgPaymentIntent, now: datetime) -> None:
    session.execute(sa.update(PkContract).where(PkContract.id == int(intent.subject_id)).values(paid_at=now))


def _contract_closed(session: Session, intent: LgPaymentIntent, now: datetime) -> None:
    session.execute(sa.update(PkContract).where(PkContract.id == int(intent.subject_id), PkContract.paid_at.is_(None),
                                                PkContract.status == "active").values(status="cancelled"))


STAY = purposes.register(purposes.PaymentPurpose(kind="pk_stay", on_paid=_stay_paid, on_closed=_stay_closed))
DEBT = purposes.register(purposes.PaymentPurpose(kind="pk_debt", on_paid=_debt_paid))
CONTRACT = purposes.register(purposes.PaymentPurpose(kind="pk_contract", on_paid=_contract_paid,
                                                     on_closed=_contract_closed))


def charge_stay(session: Session, *, principal: Principal, lot: PkLot, stay: PkStay, owed: int,
                now: datetime) -> LgPaymentIntent:
    """An intent for what the stay owes now (409 ``nothing_owed`` when nothing)."""
    if owed <= 0:
        raise ApiError("nothing_owed")
    return purposes.charge(session, STAY, subject_id=stay.id, scenario=SLUG, payer_person_id=principal.person_id,
                           payee_org_id=lot.operator_id, amount_fen=owed, description=f"停车费 {lot.name}", now=now,
                           expires_in=timedelta(minutes=15))


def charge_debt(session: Session, *, principal: Principal, debt: PkDebt, lot: PkLot, now: datetime) -> LgPaymentIntent:
    if debt.status != "open":
        raise ApiError("debt_not_open")
    return purposes.charge(session, DEBT, subject_id=debt.id, scenario=SLUG, payer_person_id=principal.person_id,
                           payee_org_id=lot.operator_id, amount_fen=debt.amount_fen,
                           description=f"停车欠费补缴 {lot.name}", now=now, expires_in=timedelta(minutes=30))


def charge_contract(session: Session, *, contract: PkContract, lot: PkLot, now: datetime) -> LgPaymentIntent:
    intent = purposes.charge(session, CONTRACT, subject_id=contract.id, scenario=SLUG,
                             payer_person_id=contract.person_id, payee_org_id=lot.operator_id,
                             amount_fen=contract.fee_fen, description=f"错峰共享停车 {lot.name}", now=now,
                             expires_in=timedelta(hours=2))
    contract.payment_id = intent.id
    return intent
