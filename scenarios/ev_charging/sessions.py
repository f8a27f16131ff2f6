"""Charging sessions: start, the energy the device reports, stop, the fee.

- **Start**: the resident scans the pile's place code in the mini-program (``via place_code``), or
  the pile's device reports that the car of the reservation in its arrival window plugged in
  (``via device``). Refused: a faulty pile (409 ``pile_faulty``), a silent one (``pile_offline``),
  one already charging (``pile_in_use``: also the partial unique index's answer when two starts
  race), one reserved by someone else for now (``pile_reserved``); the device with no reservation
  now (``no_reservation_now``). The starter's own reservation is marked used (no no-show).
- **Energy**: the device reports the energy delivered so far (kWh, cumulative for the session)
  through the telemetry engine or with its stop; each increase is priced at the tariff in force
  when it was reported (tariff.py). Negative is 422 ``energy_negative``; less than an earlier
  report (or more than a later one) 422 ``energy_decreasing``; a time ahead of the server 422
  ``reading_from_future``.
- **Stop**: the device, or the resident (the energy last reported counts). A device's stop with
  no session open is 409 ``session_not_started``; a stop of a stopped session 409
  ``session_not_active``. The fee (energy × tariff, rounded once) is charged through the ledger
  (``payments.py``); the resident is told through the outbox.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from auth.principal import Principal
from qr.models import PLACE_CHECKIN_PURPOSE
from qr.place_codes import issue_place_code, token_from_scan
from qr.service import Scanner, verify
from qr.tokens import QrError
from scenarios.engines.booking import external
from scenarios.engines.booking.models import BkResource
from scenarios.ev_charging import notices, payments, piles
from scenarios.ev_charging.models import EvPile, EvSession
from scenarios.ev_charging.tariff import accrue_milli_fen, round_fen

CLOCK_SKEW = timedelta(seconds=30)
"""A device's timestamp may be this far ahead of the server's clock."""
MAX_SESSION_KWH = 1000.0
PLACE_CODE_HOLDER = "place"
"""The QR layer's holder type of every place code (``qr.place_codes``); the reference says which pile."""


def pile_ref(code: str) -> str:
    """The reference a pile's place code carries."""
    return f"ev-pile:{code}"


def place_code(session: Session, pile: EvPile, *, clock: Clock) -> str:
    """The pile's live place-code link (printed on the pile; issued again when it expired)."""
    _, link = issue_place_code(session, place_ref=pile_ref(pile.code), place_id=pile.id, clock=clock)
    return link


def open_session(session: Session, pile_id: int, *, lock: bool = False) -> EvSession | None:
    stmt = sa.select(EvSession).where(EvSession.pile_id == pile_id, EvSession.status == "charging")
    return session.scalar(stmt.with_for_update() if lock else stmt)


def pile_of_device(session: Session, principal: Principal) -> EvPile:
    """The pile the calling device reports for (403 for a device that is no pile's)."""
    if not principal.is_device:
        raise ApiError("forbidden")
    pile = session.scalar(sa.select(EvPile).where(EvPile.device_id == principal.device_id,
                                                  EvPile.operator_org_id == principal.org_id))
    if pile is None:
        raise ApiError("forbidden", message="该设备不是充电桩。")
    return pile


def check_time(at: datetime | None, now: datetime, field: str = "at") -> datetime:
    """A device's timestamp (default now); ahead of the server by more than the skew: 422."""
    if at is None:
        return now
    if at > now + CLOCK_SKEW:
        raise ApiError("reading_from_future", errors={field: ["时间晚于服务器当前时间。"]})
    return at


# ---------------------------------------------------------------- start


def start_by_place_code(session: Session, *, clock: Clock, principal: Principal, scanned: str) -> EvSession:
    """The resident scanned the pile's place code: a session for them starts."""
    if not principal.is_resident or principal.person_id is None:
        raise ApiError("forbidden")
    try:
        result = verify(session, token_from_scan(scanned), clock=clock, allowed_purposes=(PLACE_CHECKIN_PURPOSE,),
                        scanner=Scanner("resident"))
    except QrError:
        session.commit()  # the rejected scan is kept
        raise
    pile = None
    if result.holder is not None and result.holder.type == PLACE_CODE_HOLDER:
        pile = session.get(EvPile, result.holder.id)
    if pile is None or not pile.active or pile_ref(pile.code) != result.ref:
        raise ApiError("not_found")
    return _start(session, clock=clock, pile=pile, person_id=principal.person_id, account_id=principal.account_id,
                  via="place_code", at=clock.now())


def start_by_device(session: Session, *, clock: Clock, principal: Principal, at: datetime | None = None) -> EvSession:
    """The pile's device: the reserved car plugged in within its arrival window."""
    pile = pile_of_device(session, principal)
    now = clock.now()
    at = check_time(at, now)
    booking = external.booking_at(session, pile.resource_id, now)
    if booking is None or booking.status != "confirmed":
        raise ApiError("no_reservation_now")
    return _start(session, clock=clock, pile=pile, person_id=booking.person_id,
                  account_id=booking.booker_account_id, via="device", at=at)


def _start(session: Session, *, clock: Clock, pile: EvPile, person_id: int, account_id: int | None, via: str,
           at: datetime) -> EvSession:
    now = clock.now()
    session.execute(sa.select(EvPile.id).where(EvPile.id == pile.id).with_for_update())  # starts one by one
    state = piles.state_of(pile, now)
    if state == "fault":
        raise ApiError("pile_faulty")
    if state == "offline":
        raise ApiError("pile_offline")
    if open_session(session, pile.id) is not None:
        raise ApiError("pile_in_use")
    booking = external.booking_at(session, pile.resource_id, now)
    if booking is not None and booking.person_id != person_id:
        raise ApiError("pile_reserved", message="该充电桩此时段已被他人预约。")
    if booking is not None and booking.status == "confirmed":
        external.use(session, booking, now)
    row = EvSession(pile_id=pile.id, operator_org_id=pile.operator_org_id, person_id=person_id,
                    account_id=account_id, booking_id=booking.id if booking is not None else None,
                    status="charging", started_via=via, started_at=min(at, now), energy_wh=0, fee_milli_fen=0)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise ApiError("pile_in_use") from None
    return row


# ---------------------------------------------------------------- energy


def _wh(kwh: float, field: str) -> int:
    if kwh < 0:
        raise ApiError("energy_negative", errors={field: ["电量不能为负数。"]})
    if kwh > MAX_SESSION_KWH:
        raise ApiError("validation_error", errors={field: [f"单次充电电量不超过 {MAX_SESSION_KWH:g} kWh。"]})
    return round(kwh * 1000)


def record_energy(session: Session, row: EvSession, pile: EvPile, *, kwh: float, at: datetime,
                  field: str = "energy_kwh") -> int:
    """The device says ``kwh`` were delivered by ``at``: the increase since the last report is
    accrued at the price in force at ``at``. Returns the Wh added (0 for a repeat or a late report)."""
    wh = _wh(kwh, field)
    last_at = row.energy_at or row.started_at
    if at >= last_at:
        if wh < row.energy_wh:
            raise ApiError("energy_decreasing", errors={field: [f"电量少于此前报告的 {row.energy_wh / 1000:g} kWh。"]})
        added = wh - row.energy_wh
        row.fee_milli_fen += accrue_milli_fen(pile, added, at)
        row.energy_wh, row.energy_at = wh, at
        session.flush()
        return added
    if wh > row.energy_wh:  # a late report (stamped earlier) may not exceed a later one
        raise ApiError("energy_decreasing", errors={field: ["较晚的报告电量少于较早的报告。"]})
    return 0


def on_energy_reading(session: Session, device: Any, pile: EvPile, reading: Any) -> None:
    """The telemetry hook of ``charger_energy``: progress of the open session (none: kept as history only)."""
    row = open_session(session, pile.id, lock=True)
    if row is not None and reading.at >= row.started_at:
        record_energy(session, row, pile, kwh=float(reading.value["energy_kwh"]), at=reading.at,
                      field="value.energy_kwh")


# ---------------------------------------------------------------- stop


def stop_by_device(session: Session, *, clock: Clock, principal: Principal, energy_kwh: float,
                   at: datetime | None = None) -> EvSession:
    """The pile's device ends its session with the energy delivered."""
    pile = pile_of_device(session, principal)
    now = clock.now()
    at = check_time(at, now)
    row = open_session(session, pile.id, lock=True)
    if row is None:
        raise ApiError("session_not_started")
    if at < row.started_at:
        raise ApiError("validation_error", errors={"at": ["结束时间早于开始时间。"]})
    record_energy(session, row, pile, kwh=energy_kwh, at=at)
    return finish(session, row, pile, clock=clock, at=at, reason="device")


def stop(session: Session, *, clock: Clock, principal: Principal, charging: EvSession) -> EvSession:
    """The resident ends their session in the mini-program (the energy last reported counts)."""
    if not principal.is_resident or principal.person_id != charging.person_id:
        raise ApiError("forbidden")
    row = session.scalar(sa.select(EvSession).where(EvSession.id == charging.id).with_for_update())
    if row.status != "charging":
        raise ApiError("session_not_active", detail={"status": row.status})
    pile = session.get(EvPile, row.pile_id)
    return finish(session, row, pile, clock=clock, at=clock.now(), reason="resident")


def finish(session: Session, row: EvSession, pile: EvPile, *, clock: Clock, at: datetime, reason: str) -> EvSession:
    """Close the session (compare-and-set from ``charging``), charge its fee, tell the resident."""
    now = clock.now()
    fee = round_fen(row.fee_milli_fen)
    moved = session.execute(sa.update(EvSession).where(EvSession.id == row.id, EvSession.status == "charging")
                            .values(status="stopped" if fee else "paid", stopped_at=max(at, row.started_at),
                                    stop_reason=reason, fee_fen=fee, paid_at=None if fee else now)).rowcount
    if moved != 1:
        raise ApiError("session_not_active")
    session.refresh(row)
    if fee:
        row.payment_id = payments.charge(session, row, pile, now=now).id
        session.flush()
    notices.session_stopped(session, row, pile, clock=clock)
    return row


def stop_for_fault(session: Session, pile: EvPile, *, clock: Clock) -> EvSession | None:
    """The pile reported a fault while charging: the session ends with the energy delivered so far."""
    row = open_session(session, pile.id, lock=True)
    if row is None:
        return None
    return finish(session, row, pile, clock=clock, at=clock.now(), reason="pile_fault")


def pile_resource(session: Session, pile: EvPile) -> BkResource:
    return session.get(BkResource, pile.resource_id)
