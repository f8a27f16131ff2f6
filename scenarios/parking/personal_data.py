"""parking's part of a person's export and its retention: their vehicles (plates in full, theirs),
contracts, reservations, and the stays and debts of their plates (times and places with a
plate are personal data: kept 180 days after the exit, debts until paid and 180 days more)."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.privacy.parts import PersonalData, Rows, Section, Subject, plain
from app.privacy.retention import ON_CANCELLATION, Keep
from scenarios.parking.models import PkContract, PkDebt, PkReservation, PkStay, PkVehicle

STAY_RETENTION = timedelta(days=180)


def _collect(session: Session, subject: Subject) -> Mapping[str, Rows]:
    vehicles = list(session.scalars(sa.select(PkVehicle).where(PkVehicle.person_id == subject.person_id)
                                    .order_by(PkVehicle.id)))
    hashes = {v.plate_hash for v in vehicles}
    ids = [v.id for v in vehicles]
    return {
        "parking_vehicles": [plain(v, exclude=("plate_hash", "account_id")) for v in vehicles],
        "parking_contracts": [plain(c, exclude=("account_id",)) for c in session.scalars(
            sa.select(PkContract).where(PkContract.person_id == subject.person_id).order_by(PkContract.id))],
        "parking_reservations": [plain(r) for r in session.scalars(
            sa.select(PkReservation).where(PkReservation.vehicle_id.in_(ids)).order_by(PkReservation.id))],
        "parking_stays": [plain(s, exclude=("plate_hash", "entry_device_id", "exit_device_id")) for s in
                          session.scalars(sa.select(PkStay).where(PkStay.plate_hash.in_(hashes)).order_by(PkStay.id))],
        "parking_debts": [plain(d, exclude=("plate_hash",)) for d in session.scalars(
            sa.select(PkDebt).where(PkDebt.plate_hash.in_(hashes)).order_by(PkDebt.id))],
    }


def purge_stays(session: Session, cutoff: datetime) -> int:
    """Stays that ended before the cutoff and owe nothing (their settled debts go with them)."""
    owing = sa.select(PkDebt.stay_id).where(PkDebt.status == "open")
    old = sa.select(PkStay.id).where(PkStay.exited_at < cutoff, PkStay.status != "inside", PkStay.id.not_in(owing))
    ids = list(session.scalars(old.limit(5000)))
    if not ids:
        return 0
    session.execute(sa.delete(PkDebt).where(PkDebt.stay_id.in_(ids)))
    return session.execute(sa.delete(PkStay).where(PkStay.id.in_(ids))).rowcount or 0


PERSONAL_DATA = PersonalData(
    name="parking",
    tables=("pk_vehicles", "pk_contracts", "pk_reservations", "pk_stays", "pk_debts"),
    sections=(Section("parking_vehicles", "车辆号牌"), Section("parking_contracts", "错峰共享停车合同"),
              Section("parking_reservations", "停车预约"), Section("parking_stays", "停车进出记录"),
              Section("parking_debts", "停车欠费")),
    collect=_collect,
    retention=(Keep("pk_vehicles", "车辆号牌", None, ON_CANCELLATION),
               Keep("pk_contracts", "错峰共享停车合同", None, "合同及其付款记录随账号保存（会计凭证另由账本保存）"),
               Keep("pk_reservations", "停车预约", None, ON_CANCELLATION),
               Keep("pk_stays", "停车进出记录（号牌、时间、地点）", STAY_RETENTION,
                    "出场后180天；欠费未缴清的保留至缴清", purge=purge_stays),
               Keep("pk_debts", "停车欠费", STAY_RETENTION, "缴清后随进出记录删除", purge=purge_stays)),
)
