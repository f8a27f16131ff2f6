"""Demo data of elderly-sos (``flask seed demo``), idempotent by natural keys.

- The SOS call centre (reference data): ``demo-310116-sos-call-centre-manager`` and operators
  ``-operator1`` … ``3`` (password ``app.demo.DEMO_PASSWORD``), 1 and 2 on duty; 区民政局's
  ``demo-310116-bureau-civil-affairs-supervisor``.
- A neighbourhood committee's member ``demo-<committee>-sos-member`` (the responder) and its
  volunteer ``demo-<committee>-sos-volunteer``, on duty in the visits' pool with a position
  400 m from the person's home point (fresh for 10 minutes after seeding; the app reports it).
- ``demo-resident-3600`` (王阿婆's account: a person of 86 with no other personal data),
  enrolled by that committee, with ``demo-resident-3601`` (her daughter, who follows alarms
  and may press for her) and a neighbour (a fictitious phone in the demo's 138 0000 range) as
  contacts; a wearable of the call centre she wears.
- Two alarms at past times through the scenario's own services: one pressed, acknowledged,
  visited and closed ``helped_at_home``; one from the wearable closed ``false_alarm``. The
  call centre's figures have a month to show. Nothing is left open (an open alarm would
  escalate every few minutes in ``make run``).
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock, FrozenClock
from app.demo import as_resident, as_staff, dev_resident, staff_account
from auth.devices import create_device
from auth.organisations import Organisation
from auth.principal import Principal
from scenarios.elderly_sos.alarms import arrived, close, raise_alarm, take_visit
from scenarios.elderly_sos.models import SosAlarm, SosContact, SosDevice, SosEnrolment
from scenarios.elderly_sos.places import CALL_CENTRE, CIVIL_AFFAIRS, DISTRICT_CENTRE
from scenarios.elderly_sos.visit import VISIT_POOL
from scenarios.engines.dispatch import agents
from scenarios.engines.dispatch import service as dispatch

GRANNY, DAUGHTER = 3600, 3601


def _org(session: Session, code: str) -> Organisation | None:
    return session.scalar(sa.select(Organisation).where(Organisation.code == code))


def load(session: Session, clock: Clock) -> None:
    from scenarios.elderly_sos import CONFIG

    centre, civil = _org(session, CALL_CENTRE), _org(session, CIVIL_AFFAIRS)
    committee = session.scalar(sa.select(Organisation).where(Organisation.type == "neighbourhood_committee")
                               .order_by(Organisation.code).limit(1))
    if centre is None or civil is None or committee is None:
        return  # reference data not loaded
    staff_account(session, f"demo-{CALL_CENTRE}-manager", centre, "manager")
    staff_account(session, f"demo-{CIVIL_AFFAIRS}-supervisor", civil, "supervisor")
    ops = [as_staff(staff_account(session, f"demo-{CALL_CENTRE}-operator{k}", centre, "operator"), centre,
                    "operator") for k in (1, 2, 3)]
    member = staff_account(session, f"demo-{committee.code}-sos-member", committee, "committee")
    volunteer = staff_account(session, f"demo-{committee.code}-sos-volunteer", committee, "volunteer")
    granny, daughter = dev_resident(session, GRANNY), dev_resident(session, DAUGHTER)
    if session.scalar(sa.select(SosEnrolment.id).where(SosEnrolment.person_id == granny.person_id)) is not None:
        return  # an earlier run
    granny.person.birth_date, granny.person.real_name_level = date(1940, 3, 15), "verified"
    now = clock.now()
    enrolment = SosEnrolment(person_id=granny.person_id, committee_org_id=committee.id,
                             enrolled_by_account_id=member.id, hukou_shanghai=True, lives_alone=True,
                             address="（演示）居委会辖区某楼 302 室", health="（演示）高血压，按时服药",
                             home_point=f"{DISTRICT_CENTRE[0]:.6f},{DISTRICT_CENTRE[1]:.6f}",
                             state="active", created_at=now - timedelta(days=30), updated_at=now)
    session.add(enrolment)
    session.flush()
    session.add_all([
        SosContact(enrolment_id=enrolment.id, position=1, relation="family", name="（演示）女儿", phone=None,
                   account_id=daughter.id, may_alarm=True),
        SosContact(enrolment_id=enrolment.id, position=2, relation="neighbour", name="（演示）邻居",
                   phone="13800003601", may_alarm=False)])
    device, _secret = create_device(session, org=centre, kind="sensor", name="（演示）王阿婆的手环")
    worn = SosDevice(device_id=device.id, kind="wearable", enrolment_id=enrolment.id, assigned_at=now)
    session.add(worn)
    session.flush()
    past = FrozenClock(datetime.now(UTC) - timedelta(hours=3))
    for op in ops[:2]:
        agents.set_duty(session, clock=past, principal=op, config=CONFIG, on_duty=True)
    _helped(session, past, CONFIG, as_resident(granny), ops[0], as_staff(member, committee, "committee"))
    past.advance(minutes=40)
    device_principal = Principal("device", org_id=centre.id, org_code=centre.code, org_type=centre.type,
                                 device_id=device.id, device_uid=device.uid, device_kind=device.kind)
    alarm, _ = raise_alarm(session, clock=past, principal=device_principal, config=CONFIG)
    past.advance(seconds=25)
    dispatch.accept(session, clock=past, principal=ops[1], config=CONFIG, job_id=alarm.job_id)
    past.advance(minutes=2)
    close(session, clock=past, principal=ops[1], alarm_id=alarm.id, outcome="false_alarm", config=CONFIG)
    for op in ops[:2]:  # on duty now, for make run
        agents.set_duty(session, clock=clock, principal=op, config=CONFIG, on_duty=True)
    responder = as_staff(volunteer, committee, "volunteer")
    agents.set_duty(session, clock=clock, principal=responder, config=VISIT_POOL, on_duty=True)
    agents.report_position(session, clock=clock, principal=responder, config=VISIT_POOL,
                           lat=DISTRICT_CENTRE[0] + 400 / 111_195.0, lon=DISTRICT_CENTRE[1])


def _helped(session: Session, past: FrozenClock, config: object, granny: Principal, operator: Principal,
            member: Principal) -> SosAlarm:
    """Pressed, acknowledged in 18 s, visited, arrived in 12 minutes, closed: helped at home."""
    alarm, _ = raise_alarm(session, clock=past, principal=granny, config=config)
    past.advance(seconds=18)
    dispatch.accept(session, clock=past, principal=operator, config=config, job_id=alarm.job_id)
    past.advance(minutes=1)
    take_visit(session, clock=past, principal=member, alarm_id=alarm.id)
    past.advance(minutes=11)
    arrived(session, clock=past, principal=member, alarm_id=alarm.id)
    past.advance(minutes=15)
    return close(session, clock=past, principal=member, alarm_id=alarm.id, outcome="helped_at_home", config=config)
