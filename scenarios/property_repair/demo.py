"""Demo data of property-repair (``flask seed demo``), idempotent by natural keys.

- Three property companies (the managers of the first communities by code), each with a
  manager and two technicians: ``demo-<company code>-manager``, ``-tech1``, ``-tech2``;
  区房管局 supervisors ``demo-housing-supervisor1`` and ``2``. Password: ``app.demo.DEMO_PASSWORD``.
- Residents ``demo-resident-1`` … ``6`` (log in with ``POST /api/v1/auth/dev/login``), two
  per community, each with a verified residence.
- Tickets across the three companies: fresh, acknowledged, in progress, overdue (escalated
  to the managers), escalated to the bureau, resolved, closed and rated. They are made with
  the engine's own services at past times, and escalations due by now are fired here, so
  the data is complete without a worker.

A second run finds every account, residence and ticket (a ticket by reporter and text) and
changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.calendar import load_calendar_days
from app.clock import Clock, FrozenClock
from app.demo import as_resident, as_staff, dev_resident, staff_account
from app.places.models import Building, Community
from app.places.service import local_date, managing_organisation
from auth.models import Account, Residence
from auth.organisations import Organisation
from scenarios.engines.workflow import service as svc
from scenarios.engines.workflow.demo import fire_due
from scenarios.engines.workflow.models import Ticket

BUREAU_CODE = "310116-bureau-housing"
COMPANIES = 3


@dataclass
class Company:
    org: Organisation
    community: Community
    manager: Account
    techs: list[Account]


def _resident(session: Session, n: int, community: Community, room: str) -> Account:
    """``demo-resident-<n>`` with a verified residence in ``community``."""
    account = dev_resident(session, n)
    building = session.scalar(sa.select(Building).where(Building.community_id == community.id)
                              .order_by(Building.id).limit(1))
    exists = session.scalar(sa.select(Residence.id).where(
        Residence.person_id == account.person_id, Residence.community_id == community.id,
        Residence.status == "verified"))
    if exists is None:
        session.add(Residence(person_id=account.person_id, community_id=community.id, building_id=building.id,
                              room=room, valid_from=date(2020, 1, 1), status="verified"))
        session.flush()
    return account


def _companies(session: Session, clock: Clock) -> list[Company]:
    today = local_date(clock)
    chosen: dict[int, tuple[Organisation, Community]] = {}
    for community in session.scalars(sa.select(Community).order_by(Community.code)):
        org = managing_organisation(session, community, today)
        if org.type == "property_company" and org.id not in chosen:
            chosen[org.id] = (org, community)
        if len(chosen) == COMPANIES:
            break
    out = []
    for org, community in chosen.values():
        prefix = f"demo-{org.code}"
        out.append(Company(org, community, staff_account(session, f"{prefix}-manager", org, "manager"),
                           [staff_account(session, f"{prefix}-tech{i}", org, "technician") for i in (1, 2)]))
    return out


# (company index, resident index within the company, minutes ago, category, text, steps)
# steps: (minutes after the report, action[, argument])
SPECS: tuple[tuple[int, int, int, str, str, tuple[tuple, ...]], ...] = (
    (0, 0, 5, "水电", "卫生间水龙头一直滴水，关不紧。", ()),
    (0, 1, 45, "电梯", "2号楼电梯按钮失灵，按了没反应。", ()),
    (0, 0, 120, "公共设施", "楼道声控灯坏了好几天，晚上很黑。", ()),
    (0, 1, 4320, "管道疏通", "厨房下水道堵了，水下不去。", (
        (10, "acknowledge"), (15, "assign", 0), (40, "start"), (180, "resolve", "已疏通下水管道。"),
        (300, "confirm"), (301, "rate", 5))),
    (1, 0, 60, "门窗", "阳台窗户把手断了，窗关不上。", (
        (5, "acknowledge"), (8, "assign", 1), (30, "start"))),
    (1, 1, 1440, "水电", "客厅插座没电，空开没跳。", (
        (12, "assign", 0), (60, "start"), (200, "resolve", "更换了损坏的插座。"))),
    (1, 0, 7200, "其他", "单元门门禁刷卡没反应。", (
        (50, "acknowledge"), (55, "assign", 1), (120, "resolve", "门禁读卡器已更换。"), (180, "confirm"),
        (181, "rate", 3))),
    (2, 0, 20, "公共设施", "小区健身器材螺丝松动，有安全隐患。", ((3, "acknowledge"),)),
    (2, 1, 90, "电梯", "电梯运行时有异响，晃得厉害。", ()),
    (2, 0, 35, "门窗", "入户门锁芯卡住，钥匙转不动。", ((4, "acknowledge"), (6, "assign", 1))),
    (2, 1, 10080, "水电", "楼上漏水渗到我家天花板。", (
        (20, "acknowledge"), (25, "assign", 0), (90, "start"), (600, "resolve", "楼上防水层已修补。"),
        (700, "confirm"), (701, "rate", 4))),
)


def load(session: Session, clock: Clock) -> None:
    from scenarios.property_repair import CONFIG

    load_calendar_days(session)
    bureau = session.scalar(sa.select(Organisation).where(Organisation.code == BUREAU_CODE))
    if bureau is not None:
        for i in (1, 2):
            staff_account(session, f"demo-housing-supervisor{i}", bureau, "supervisor")
    companies = _companies(session, clock)
    residents = {(ci, ri): _resident(session, ci * 2 + ri + 1, c.community, f"{ri + 1}01")
                 for ci, c in enumerate(companies) for ri in (0, 1)}
    now = clock.now()
    for ci, ri, ago, category, text, steps in SPECS:
        if ci >= len(companies):
            continue
        company, reporter = companies[ci], residents[(ci, ri)]
        if session.scalar(sa.select(Ticket.id).where(Ticket.reporter_account_id == reporter.id,
                                                     Ticket.text == text)) is not None:
            continue
        created_at = now - timedelta(minutes=ago)
        at = FrozenClock(created_at)
        ticket = svc.create(session, clock=at, principal=as_resident(reporter), config=CONFIG, data={
            "category": category, "text": text, "details": {"public_area": category in ("电梯", "公共设施")},
            "community_code": company.community.code}).ticket
        for offset, action, *arg in steps:
            at.set(created_at + timedelta(minutes=offset))
            fire_due(session, ticket, at)
            _step(session, at, CONFIG, company, reporter, ticket, action, arg[0] if arg else None)
        fire_due(session, ticket, FrozenClock(now))


def _step(session: Session, clock: Clock, config, company: Company, reporter: Account, ticket: Ticket,
          action: str, arg: object) -> None:
    manager = as_staff(company.manager, company.org, "manager")
    kw = {"clock": clock, "config": config, "ticket_id": ticket.id}
    if action == "acknowledge":
        svc.acknowledge(session, principal=manager, **kw)
    elif action == "assign":
        svc.assign(session, principal=manager, assignee_account_id=company.techs[int(arg)].id, **kw)
    elif action == "start":
        tech = (company.techs[0] if ticket.assignee_account_id is None
                else session.get(Account, ticket.assignee_account_id))
        svc.start(session, principal=as_staff(tech, company.org, "technician"), **kw)
    elif action == "resolve":
        svc.resolve(session, principal=manager, note=str(arg), **kw)
    elif action == "confirm":
        svc.confirm(session, principal=as_resident(reporter), **kw)
    elif action == "rate":
        svc.rate(session, principal=as_resident(reporter), rating=int(arg), **kw)  # type: ignore[arg-type]


__all__ = ["SPECS", "load"]
