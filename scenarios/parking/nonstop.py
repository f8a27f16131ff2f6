"""无感支付: the fee taken at the barrier through WeChat Pay's parking service (车主服务), for
drivers who signed their plate up in WeChat; everyone else pays in the mini-program.

Through the ledger's WeChat Pay provider (``wechatpay.parking_*``, on its client):

- after an entry (a timer, so the barrier never waits for WeChat Pay): the plate's sign-up state
  (``parking_service_state``, with the openid of a resident who recorded the plate); signed up
  (``NORMAL``): the entry notice (``parking_enter``), whose parking id the stay keeps;
- at the exit, for a stay with a parking id: a ``pk_stay`` payment intent (provider WeChat Pay)
  and the deduction order (``parking_deduct``) under its ``out_trade_no``. Accepted: the barrier
  opens and the ledger books the payment when WeChat Pay notifies it (``on_paid``); refused or
  unreachable: the intent is closed and the operator's rule decides (a debt, or closed). A
  deduction accepted and then reported failed (the intent closes unpaid) becomes a debt.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.timers import Timer, schedule, timer_handler
from auth.models import Account
from scenarios.engines.ledger import payments as ledger_payments
from scenarios.engines.ledger import purposes, wechatpay
from scenarios.engines.ledger.setup import current_runtime
from scenarios.parking.models import PkLot, PkStay, PkVehicle
from scenarios.parking.tariff import Tariff

log = logging.getLogger("scenarios.parking")
ENTRY_NOTICE = "parking.entry_notice"
COLOURS = {"blue": "BLUE", "green": "GREEN", "yellow": "YELLOW", "black": "BLACK", "white": "WHITE",
           "yellow_green": "LIMEGREEN"}


def _wechat():
    runtime = current_runtime()
    return runtime.wechat if runtime.provider == "wechatpay" else None


def _owner(session: Session, plate_hash: str) -> tuple[int, str] | None:
    """(person, openid) of a WeChat account that recorded this plate, if any."""
    row = session.execute(sa.select(PkVehicle.person_id, Account.openid)
                          .join(Account, Account.id == PkVehicle.account_id)
                          .where(PkVehicle.plate_hash == plate_hash, Account.kind == "wechat",
                                 Account.openid.is_not(None)).order_by(PkVehicle.id).limit(1)).first()
    return None if row is None else (row.person_id, row.openid)


def after_entry(session: Session, stay: PkStay, now: datetime) -> None:
    """Arm the entry notice (only when WeChat Pay is the provider)."""
    if _wechat() is not None:
        schedule(session, subject_type="pk_stay", subject_id=stay.id, kind=ENTRY_NOTICE, due_at=now)


@timer_handler(ENTRY_NOTICE)
def on_entry_notice(session: Session, timer: Timer, clock: Clock) -> None:
    pay = _wechat()
    stay = session.get(PkStay, int(timer.subject_id))
    if pay is None or stay is None or stay.status != "inside" or stay.wx_parking_id:
        return
    owner = _owner(session, stay.plate_hash)
    if owner is None:
        return
    lot = session.get(PkLot, stay.lot_id)
    try:
        state = wechatpay.parking_service_state(pay, plate=stay.plate, plate_color=COLOURS[stay.colour],
                                                openid=owner[1])
        if state.get("user_state") != "NORMAL":
            return
        entered = wechatpay.parking_enter(pay, out_parking_no=f"pk{stay.id}", plate=stay.plate,
                                          plate_color=COLOURS[stay.colour], entered_at=stay.entered_at,
                                          parking_name=lot.name, free_seconds=Tariff.of(lot.tariff).free_minutes * 60)
    except wechatpay.WeChatPayError as exc:  # no entry notice: the driver pays in the mini-program
        log.warning("parking entry notice failed for stay %s: %s", stay.id, exc)
        return
    stay.wx_parking_id = entered.get("id")


def charge(session: Session, lot: PkLot, stay: PkStay, owed: int, at: datetime) -> bool:
    """The deduction at the exit: True when WeChat Pay accepted it (the barrier opens)."""
    pay = _wechat()
    owner = _owner(session, stay.plate_hash) if stay.wx_parking_id else None
    if pay is None or owner is None:
        return False
    from scenarios.parking.payments import STAY

    intent = purposes.charge(session, STAY, subject_id=stay.id, scenario="parking", payer_person_id=owner[0],
                             payee_org_id=lot.operator_id, amount_fen=owed, description=f"停车费 {lot.name}",
                             now=at, expires_in=timedelta(hours=24), provider="wechatpay")
    ledger_payments.mark_pending(session, intent, at)
    try:
        answer = wechatpay.parking_deduct(
            pay, out_trade_no=intent.out_trade_no, description=f"停车费 {lot.name}", amount_fen=owed,
            parking_id=stay.wx_parking_id, plate=stay.plate, plate_color=COLOURS[stay.colour],
            entered_at=stay.entered_at, left_at=at, parking_name=lot.name, device_id=str(lot.id))
    except wechatpay.WeChatPayError as exc:
        log.warning("parking deduction failed for stay %s: %s", stay.id, exc)
        answer = {}
    if answer.get("trade_state") in ("ACCEPTED", "SUCCESS", "USERPAYING"):
        return True
    # a refused or unanswered deduction is no JSAPI order: nothing for the close API to close
    purposes.close(session, intent, now=at, at_provider=False)
    return False
