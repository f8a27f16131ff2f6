"""Demo data of parcel-locker: a locker operator (``310116-locker-01``) with its manager and
staff (``demo-310116-locker-01-manager`` / ``-staff``, password as every demo account), a locker
at each of the first three communities (12 cells: S, M, L), and parcels for
``demo-resident-1`` (one waiting, one overdue, one picked up).

Idempotent: found by natural keys (organisation code, device name, tracking number). The demo
resident gets a fictitious phone in the demo's own range (139 0000 xxxx) when they have none.
Demo lockers get a random secret shown nowhere: register your own device to play the locker.
"""
from __future__ import annotations

import secrets
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.demo import as_staff, dev_resident, staff_account
from app.errors import ApiError
from app.places.models import Community
from auth.models import Device, Person
from auth.organisations import Organisation
from auth.principal import device_secret_hash
from scenarios.parcel_locker import service as svc
from scenarios.parcel_locker.models import Locker, Parcel, ParcelEvent

OPERATOR = ("310116-locker-01", "金山邻里智能快件箱运营有限公司")
CELLS = [{"label": f"A{i:02d}", "size": "S"} for i in range(1, 7)] + \
        [{"label": f"B{i:02d}", "size": "M"} for i in range(1, 5)] + [{"label": "C01", "size": "L"},
                                                                      {"label": "C02", "size": "L"}]
PARCELS = (("JSDEMO0001", "A01", timedelta(hours=2), False), ("JSDEMO0002", "B02", timedelta(hours=30), False),
           ("JSDEMO0003", "A03", timedelta(days=3), True))


def _operator(session: Session) -> Organisation:
    org = session.scalar(sa.select(Organisation).where(Organisation.code == OPERATOR[0]))
    if org is None:
        district = session.scalar(sa.select(Organisation.id).where(Organisation.code == "310116"))
        org = Organisation(code=OPERATOR[0], name=OPERATOR[1], type="locker_operator", parent_id=district,
                           active=True, generated=True, attributes={"demo": True})
        session.add(org)
        session.flush()
    return org


def _lockers(session: Session, clock: Clock, org: Organisation) -> list[Locker]:
    out = []
    for community in session.scalars(sa.select(Community).order_by(Community.code).limit(3)):
        name = f"{community.name}快件箱"
        device = session.scalar(sa.select(Device).where(Device.organisation_id == org.id, Device.name == name))
        if device is None:
            device = Device(uid="dv_" + secrets.token_hex(10), organisation_id=org.id, kind="locker", name=name,
                            secret_hash=device_secret_hash(secrets.token_urlsafe(32)), status="active")
            session.add(device)
            session.flush()
        locker = session.scalar(sa.select(Locker).where(Locker.device_id == device.id))
        if locker is None:
            locker = svc.add_locker(session, clock=clock, operator_id=org.id, device=device, name=name,
                                    community_id=community.id, cells=CELLS)
        out.append(locker)
    return out


def load(session: Session, clock: Clock) -> None:
    org = _operator(session)
    manager = staff_account(session, f"demo-{org.code}-manager", org, "manager")
    staff_account(session, f"demo-{org.code}-staff", org, "staff")
    lockers = _lockers(session, clock, org)
    if not lockers:
        return
    person = session.get(Person, dev_resident(session, 1).person_id)
    if person.phone is None:
        person.set_phone("13900001001")
    device = session.scalar(sa.select(Device.uid).where(Device.id == lockers[0].device_id))
    operator = as_staff(manager, org, "manager")
    for tracking_no, cell, age, picked in PARCELS:
        if session.scalar(sa.select(Parcel.id).where(Parcel.tracking_no == tracking_no)) is not None:
            continue
        try:
            with session.begin_nested():
                parcel = svc.store(session, clock=clock, principal=operator, cell=cell,
                                   recipient_phone=person.phone, tracking_no=tracking_no, courier="中通快递",
                                   locker=device).parcel
        except ApiError as exc:  # no QR signing key yet (`flask qr init-keys` comes first in `make run`)
            if exc.code != "qr_no_signing_key":
                raise
            return
        _backdate(session, parcel, clock.now() - age)
        if picked:
            parcel.status, parcel.picked_up_at = "picked_up", parcel.stored_at + timedelta(hours=5)
            svc.cancel(session, subject_type=svc.SUBJECT, subject_id=parcel.id, kind=svc.OVERDUE)
    session.flush()


def _backdate(session: Session, parcel: Parcel, when) -> None:
    """A demo parcel stored ``when`` (its pass is signed now: a key signs from its creation)."""
    parcel.stored_at = when
    session.execute(sa.update(ParcelEvent).where(ParcelEvent.parcel_id == parcel.id).values(at=when))
    svc.schedule_many(session, subject_type=svc.SUBJECT, subject_id=parcel.id,
                      timers=[(svc.OVERDUE, 0, when + svc.REMIND_AFTER), (svc.OVERDUE, 1, when + svc.OPERATOR_AFTER)])
