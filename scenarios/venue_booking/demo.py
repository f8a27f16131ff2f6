"""Demo data of venue-booking: a sports centre per town (a venue operator supervised by 区体育局)
with two badminton courts and a basketball court, free, and a badminton and a tennis court that
are paid (30 and 60 元 an hour, through the ledger) (whole courts, hourly 08:00–21:00 every day)
and the 相约星期三 fitness class (30 places, Wednesdays 09:00–11:00 and 19:00–21:00, not on
public holidays); a gate at each centre; a manager and a staff member of the first centre
(``demo-310116-venue-sports-001-manager``). Idempotent (found by codes)."""
from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.demo import staff_account
from auth.models import Device
from auth.organisations import Organisation
from auth.principal import device_secret_hash
from scenarios.engines.booking.demo import ensure_resource
from scenarios.venue_booking import CONFIG

SPORTS_BUREAU = "310116-bureau-sports"
EVERY_DAY = [{"weekday": d, "opens_minute": 8 * 60, "closes_minute": 21 * 60} for d in range(7)]
WEDNESDAYS = [{"weekday": 2, "opens_minute": 9 * 60, "closes_minute": 11 * 60, "label": "相约星期三"},
              {"weekday": 2, "opens_minute": 19 * 60, "closes_minute": 21 * 60, "label": "相约星期三"}]
COURTS = (("bd1", "1号羽毛球场", None), ("bd2", "2号羽毛球场", None), ("bk1", "篮球场", None),
          ("bd3", "3号羽毛球场（收费）", 3000), ("tn1", "网球场（收费）", 6000))
"""(code suffix, name, price per hour in fen: None is free; the paid ones are held until paid)."""


def _centres(session: Session) -> list[tuple[Organisation, str, dict]]:
    bureau_id = session.scalar(sa.select(Organisation.id).where(Organisation.code == SPORTS_BUREAU))
    out = []
    towns = session.scalars(sa.select(Organisation).where(Organisation.type.in_(("town", "subdistrict")))
                            .order_by(Organisation.code)).all()
    for town in towns:
        short = (town.attributes or {}).get("short_name") or town.name
        code = f"310116-venue-sports-{town.code[-3:]}"
        org = session.scalar(sa.select(Organisation).where(Organisation.code == code))
        if org is None:
            org = Organisation(code=code, name=f"{short}体育中心", type="venue_operator", supervisor_id=bureau_id,
                               active=True, generated=True, attributes={"demo": True})
            session.add(org)
            session.flush()
        out.append((org, short, (town.attributes or {}).get("centre") or {}))
    return out


def _gate(session: Session, org: Organisation) -> None:
    uid = "dv_demo_" + hashlib.sha256(f"gate:{org.code}".encode()).hexdigest()[:12]
    if session.scalar(sa.select(Device.id).where(Device.uid == uid)) is None:
        session.add(Device(uid=uid, organisation_id=org.id, kind="gate", name=f"{org.name}入口闸机",
                           secret_hash=device_secret_hash(secrets.token_urlsafe(32)), status="active"))


def load(session: Session, clock: Clock) -> None:
    centres = _centres(session)
    if centres:  # 石化街道's centre has demo staff (password: app.demo.DEMO_PASSWORD)
        staff_account(session, f"demo-{centres[0][0].code}-manager", centres[0][0], "manager")
        staff_account(session, f"demo-{centres[0][0].code}-staff", centres[0][0], "staff")
    for org, town, centre in centres:
        where = {"address": f"上海市金山区{town}体育中心", "lat": centre.get("lat"), "lon": centre.get("lon")}
        for suffix, name, price in COURTS:
            ensure_resource(session, clock, CONFIG, org, code=f"{org.code[-3:]}-{suffix}", manager_role="manager",
                            name=name, kind="unit", capacity=1, slot_minutes=60, calendar="every_day",
                            hours=EVERY_DAY, price_fen=price, **where)
        ensure_resource(session, clock, CONFIG, org, code=f"{org.code[-3:]}-wed", manager_role="manager",
                        name="相约星期三·健身在金山", kind="capacity", capacity=30, slot_minutes=60,
                        calendar="closed_on_holidays", hours=WEDNESDAYS, **where)
        _gate(session, org)
    session.flush()
