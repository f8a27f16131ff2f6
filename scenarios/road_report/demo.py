"""Demo data of road-report (``flask seed demo``), idempotent by natural keys.

- Staff (password ``DEMO_PASSWORD``): 区交通委 ``demo-310116-bureau-transport-supervisor`` and
  ``-staff``; road chiefs ``demo-310116-bureau-transport-chief1`` … ``3`` (区交通委) and
  ``demo-310116102-chief1`` (枫泾镇, chief of 朱枫公路).
- Seven roads of Jinshan with a rough course (a few points, WGS84): 龙航路, 卫零路, 沪杭公路,
  亭卫公路, 朱枫公路, 金山大道, 板桥西路 — codes ``JS-…``.
- Notices: works, a closure and a detour, around today.
- Reports from residents (``demo-resident-1`` … ``3``) and one from a chief on patrol, at
  past times: fresh, in progress, resolved, confirmed and rated, one escalated.

A second run finds every account, road, notice and report and changes nothing (a road or a
notice by its code or text, a report by reporter and text).
"""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock, FrozenClock
from app.demo import as_resident, as_staff, dev_resident, staff_account
from app.fields import CST
from auth.models import Account, Membership
from auth.organisations import Organisation
from scenarios.engines.workflow import service as svc
from scenarios.engines.workflow.demo import fire_due
from scenarios.engines.workflow.models import Ticket
from scenarios.road_report.models import Road, RoadNotice
from scenarios.road_report.policy import TRANSPORT

FENGJING = "310116102"
CHIEFS = ((TRANSPORT, "chief1"), (TRANSPORT, "chief2"), (TRANSPORT, "chief3"), (FENGJING, "chief1"))

# (code, name, town, chief index in CHIEFS, points)
ROADS: tuple[tuple, ...] = (
    ("JS-LHL", "龙航路", "310116113", 0, ((30.7350, 121.3530), (30.7550, 121.3540), (30.7780, 121.3550))),
    ("JS-WLL", "卫零路", "310116001", 1, ((30.7230, 121.3050), (30.7235, 121.3300), (30.7240, 121.3550))),
    ("JS-HHGL", "沪杭公路", "310116104", 2,
     ((30.8950, 121.3200), (30.8900, 121.2500), (30.8890, 121.1700), (30.8910, 121.0500))),
    ("JS-TWGL", "亭卫公路", "310116104", 1,
     ((30.8900, 121.3100), (30.8200, 121.3050), (30.7700, 121.3050), (30.7300, 121.3100))),
    ("JS-ZFGL", "朱枫公路", FENGJING, 3, ((30.8820, 121.1650), (30.8800, 121.1000), (30.8850, 121.0200))),
    ("JS-JSDD", "金山大道", "310116113", 0, ((30.7550, 121.2900), (30.7560, 121.3300), (30.7570, 121.3700))),
    ("JS-BQXL", "板桥西路", "310116113", 0, ((30.7450, 121.3200), (30.7455, 121.3400))),
)

# (road, kind, text, first day, last day: days from today)
NOTICES: tuple[tuple, ...] = (
    ("JS-WLL", "works", "卫零路（龙胜路—蒙山路）雨污水管道施工，半幅通行，请减速慢行。", -3, 14),
    ("JS-HHGL", "closure", "沪杭公路朱泾段桥梁检修，每晚 22:00 至次日 5:00 封闭交通。", 2, 5),
    ("JS-TWGL", "detour", "亭卫公路金山卫段施工，大型车辆请绕行松卫公路。", -1, 30),
)

# (reporter: resident index or "chief0", minutes ago, road code or (lat, lon), category, text, steps)
SPECS: tuple[tuple, ...] = (
    (0, 30, "JS-LHL", "路面破损", "龙航路近金山大道路口有一处大坑，电动车容易摔倒。", ()),
    (1, 300, (30.7236, 121.3200), "井盖缺失", "人行道上井盖缺失，晚上非常危险。", ((10, "acknowledge"), (60, "start"))),
    ("chief0", 1440, "JS-JSDD", "道路遗撒", "金山大道东段有渣土车遗撒，影响行车。", (
        (5, "acknowledge"), (120, "resolve", "已安排清扫车清理。"))),
    (2, 2880, "JS-ZFGL", "路灯故障", "朱枫公路新义段路灯连续几晚不亮。", (
        (30, "acknowledge"), (600, "resolve", "已更换灯具。"), (700, "confirm"), (701, "rate", 5))),
    (0, 4000, "JS-HHGL", "投诉建议", "沪杭公路亭林段红绿灯等待时间过长，建议优化配时。", (
        (60, "acknowledge"), (1440, "resolve", "已调整信号配时。"), (1500, "confirm"), (1501, "rate", 4))),
    (1, 200, "JS-TWGL", "道路积水", "亭卫公路下立交雨后积水严重，车辆无法通行。", ()),
)


def _roads(session: Session, orgs: dict[str, Organisation], chiefs: list[Membership]) -> None:
    known = set(session.scalars(sa.select(Road.code)))
    for code, name, town, chief, points in ROADS:
        if code in known:
            continue
        road = Road(code=code, name=name, town_id=orgs[town].id, chief_membership_id=chiefs[chief].id, active=True)
        road.set_points(list(points))
        session.add(road)
    session.flush()


def _notices(session: Session, clock: Clock, bureau: Organisation, publisher: Account) -> None:
    today = clock.now().astimezone(CST).date()
    for code, kind, text, first, last in NOTICES:
        road = session.scalar(sa.select(Road).where(Road.code == code))
        exists = session.scalar(sa.select(RoadNotice.id).where(RoadNotice.road_id == road.id, RoadNotice.text == text))
        if exists is None:
            session.add(RoadNotice(road_id=road.id, kind=kind, text=text, starts_on=today + timedelta(days=first),
                                   ends_on=today + timedelta(days=last), org_id=bureau.id,
                                   created_by_account_id=publisher.id, created_at=clock.now(),
                                   updated_at=clock.now()))
    session.flush()


def load(session: Session, clock: Clock) -> None:
    from scenarios.road_report import CONFIG

    codes = {TRANSPORT, FENGJING} | {town for _, _, town, _, _ in ROADS}
    orgs = {o.code: o for o in session.scalars(sa.select(Organisation).where(Organisation.code.in_(codes)))}
    if len(orgs) < len(codes):
        return  # reference data not loaded
    bureau = orgs[TRANSPORT]
    staff_account(session, f"demo-{TRANSPORT}-supervisor", bureau, "supervisor")
    publisher = staff_account(session, f"demo-{TRANSPORT}-staff", bureau, "staff")
    chief_accounts = [staff_account(session, f"demo-{code}-{name}", orgs[code], "road_chief") for code, name in CHIEFS]
    chiefs = [session.scalar(sa.select(Membership).where(Membership.account_id == a.id,
                                                         Membership.organisation_id == orgs[code].id))
              for a, (code, _) in zip(chief_accounts, CHIEFS, strict=True)]
    _roads(session, orgs, chiefs)
    _notices(session, clock, bureau, publisher)
    principals = {m.account_id: as_staff(a, orgs[code], "road_chief")
                  for m, a, (code, _) in zip(chiefs, chief_accounts, CHIEFS, strict=True)}
    residents = [dev_resident(session, n) for n in (1, 2, 3)]
    now = clock.now()
    for who, ago, where, category, text, steps in SPECS:
        reporter = principals[chiefs[0].account_id] if who == "chief0" else as_resident(residents[who])
        if session.scalar(sa.select(Ticket.id).where(Ticket.reporter_account_id == reporter.account_id,
                                                     Ticket.text == text)) is not None:
            continue
        created_at = now - timedelta(minutes=ago)
        at = FrozenClock(created_at)
        place = {"road": where} if isinstance(where, str) else {"location": {"lat": where[0], "lon": where[1]}}
        ticket = svc.create(session, clock=at, principal=reporter, config=CONFIG,
                            data={"category": category, "text": text, **place}).ticket
        for offset, action, *arg in steps:
            at.set(created_at + timedelta(minutes=offset))
            fire_due(session, ticket, at)
            kw = {"clock": at, "config": CONFIG, "ticket_id": ticket.id}
            chief = principals[ticket.assignee_account_id]
            if action == "acknowledge":
                svc.acknowledge(session, principal=chief, **kw)
            elif action == "start":
                svc.start(session, principal=chief, **kw)
            elif action == "resolve":
                svc.resolve(session, principal=chief, note=str(arg[0]), **kw)
            elif action == "confirm":
                svc.confirm(session, principal=reporter, **kw)
            elif action == "rate":
                svc.rate(session, principal=reporter, rating=int(arg[0]), **kw)
        fire_due(session, ticket, FrozenClock(now))


__all__ = ["NOTICES", "ROADS", "SPECS", "load"]
