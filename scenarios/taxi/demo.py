"""Demo data of one-tap taxi (``flask seed demo``), idempotent by natural keys.

- Two partner taxi companies (``310116-taxi-1`` 金山出租, ``310116-taxi-2`` 强生出租金山分公司),
  supervised by 区交通委, each with a manager ``demo-<code>-manager`` and four drivers
  ``demo-<code>-driver1`` … ``4`` (password ``app.demo.DEMO_PASSWORD``), on duty with a plate,
  near the pilot communities' pick-up points.
- Residents ``demo-resident-41`` … ``48`` (dev login), one per pilot community, each with a
  verified residence there.
- Rides made with the engine's own services at past times: one completed with its fare, one
  cancelled by the resident, one unserved (nobody free). 区交通委's figures have a day to show.

A second run finds every company, account, residence and ride and changes nothing (rides by
their requester). Positions are reported at the demo's own time, so drivers show as available
for a minute after seeding (the driver app keeps them fresh).
"""
from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock, FrozenClock
from app.demo import as_resident, as_staff, dev_resident, staff_account
from app.places.models import Building, Community
from auth.models import Account, Residence
from auth.organisations import Organisation
from scenarios.engines.dispatch import agents
from scenarios.engines.dispatch import service as svc
from scenarios.engines.dispatch.models import DispatchJob
from scenarios.engines.dispatch.offers import run_round
from scenarios.taxi.pilot import PILOT

COMPANIES = (("310116-taxi-1", "金山出租汽车公司"), ("310116-taxi-2", "强生出租金山分公司"))
TRANSPORT = "310116-bureau-transport"
DISTRICT = "310116"
DRIVERS = 4
FIRST_RESIDENT = 41


def _company(session: Session, code: str, name: str, district: Organisation, bureau: Organisation) -> Organisation:
    org = session.scalar(sa.select(Organisation).where(Organisation.code == code))
    if org is None:
        org = Organisation(code=code, name=name, type="taxi_company", parent_id=district.id,
                           supervisor_id=bureau.id, active=True, attributes={})
        session.add(org)
        session.flush()
    return org


def _resident(session: Session, n: int, community: Community) -> Account:
    account = dev_resident(session, n)
    exists = session.scalar(sa.select(Residence.id).where(Residence.person_id == account.person_id,
                                                          Residence.community_id == community.id))
    if exists is None:
        building = session.scalar(sa.select(Building).where(Building.community_id == community.id)
                                  .order_by(Building.id).limit(1))
        session.add(Residence(person_id=account.person_id, community_id=community.id, building_id=building.id,
                              room="101", valid_from=date(2020, 1, 1), status="verified"))
        session.flush()
    return account


def load(session: Session, clock: Clock) -> None:
    from scenarios.taxi import CONFIG

    district = session.scalar(sa.select(Organisation).where(Organisation.code == DISTRICT))
    bureau = session.scalar(sa.select(Organisation).where(Organisation.code == TRANSPORT))
    communities = {c.code: c for c in session.scalars(sa.select(Community).where(
        Community.code.in_([p.community for p in PILOT])))}
    if district is None or bureau is None or len(communities) < len(PILOT):
        return  # reference data not loaded
    staff_account(session, f"demo-{TRANSPORT}-supervisor", bureau, "supervisor")
    drivers = []
    for n, (code, name) in enumerate(COMPANIES):
        org = _company(session, code, name, district, bureau)
        staff_account(session, f"demo-{code}-manager", org, "manager")
        for k in range(DRIVERS):
            account = staff_account(session, f"demo-{code}-driver{k + 1}", org, "driver")
            drivers.append((as_staff(account, org, "driver"), PILOT[(n * DRIVERS + k) % len(PILOT)],
                            f"沪BT{n + 1}{k + 1:03d}"))
    residents = [as_resident(_resident(session, FIRST_RESIDENT + i, communities[p.community]))
                 for i, p in enumerate(PILOT)]
    if session.scalar(sa.select(DispatchJob.id).where(DispatchJob.scenario == CONFIG.slug,
                                                      DispatchJob.requester_account_id == residents[0].account_id)):
        return  # rides made by an earlier run

    def on_duty(at: Clock) -> None:
        for principal, point, plate in drivers:
            agents.set_duty(session, clock=at, principal=principal, config=CONFIG, on_duty=True,
                            details={"plate": plate})
            agents.report_position(session, clock=at, principal=principal, config=CONFIG,
                                   lat=point.lat + 0.004, lon=point.lon)

    past = FrozenClock(clock.now() - timedelta(hours=3))
    on_duty(past)
    ride = svc.request_job(session, clock=past, principal=residents[0], config=CONFIG,
                           data={"destination": "金山医院", "passengers": 1, "note": None})
    driver = _offeree(session, ride, drivers)
    steps = ((12, "accept"), (300, "arrived"), (60, "start"), (1200, "complete"))
    for seconds, action in steps:
        past.advance(seconds=seconds)
        if action == "accept":
            svc.accept(session, clock=past, principal=driver, config=CONFIG, job_id=ride.id)
        else:
            stage = next(s for s in CONFIG.stages if s.action == action)
            extra = {"fare_fen": 4650} if action == "complete" else {}
            svc.advance(session, clock=past, principal=driver, config=CONFIG, job_id=ride.id, stage=stage, **extra)
    cancelled = svc.request_job(session, clock=past, principal=residents[1], config=CONFIG, data={})
    past.advance(seconds=30)
    svc.cancel(session, clock=past, principal=residents[1], config=CONFIG, job_id=cancelled.id, reason="临时不去了")
    for principal, _, _ in drivers:  # the evening shift ends: nobody free for the next call
        agents.set_duty(session, clock=past, principal=principal, config=CONFIG, on_duty=False)
    unserved = svc.request_job(session, clock=past, principal=residents[2], config=CONFIG, data={})
    while unserved.status in ("requested", "offered"):
        past.advance(seconds=CONFIG.offer_timeout.total_seconds())
        run_round(session, past, CONFIG, unserved)
    on_duty(clock)


def _offeree(session: Session, ride: DispatchJob, drivers: list) -> object:
    from scenarios.engines.dispatch.models import DispatchAgent, DispatchOffer

    account_id = session.scalar(sa.select(DispatchAgent.account_id).join(DispatchOffer,
                                DispatchOffer.agent_id == DispatchAgent.id).where(DispatchOffer.job_id == ride.id))
    return next(p for p, _, _ in drivers if p.account_id == account_id)
