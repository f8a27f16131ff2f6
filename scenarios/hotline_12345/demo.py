"""Demo data of hotline-12345 (``flask seed demo``), idempotent by natural keys.

- Staff (password ``DEMO_PASSWORD``): the hotline office's ``demo-310116-hotline-taker1`` and
  ``-taker2`` (call-takers) and ``demo-310116-hotline-manager`` (figures); 区水务局's
  ``demo-310116-bureau-water-supervisor`` and ``-staff``; 区市场监管局's
  ``demo-310116-bureau-market-supervisor``.
- Work orders at past times (fictitious callers' numbers 1990000000x): fresh, contacted,
  sent back once and re-routed, replied and closed 满意, reopened after 不满意.

A second run finds every account and order (by call-taker and text) and changes nothing.
"""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock, FrozenClock
from app.demo import as_staff, staff_account
from auth.organisations import Organisation
from scenarios.engines.workflow import service as svc
from scenarios.engines.workflow.demo import fire_due
from scenarios.engines.workflow.models import Ticket
from scenarios.engines.workflow.routing import transfer
from scenarios.hotline_12345 import service as hl
from scenarios.hotline_12345.catalogue import HOTLINE_OFFICE

WATER, MARKET = "310116-bureau-water", "310116-bureau-market"

# (minutes ago, category, urgency, text, caller, steps: (minutes after, who, action, argument))
SPECS: tuple[tuple, ...] = (
    (20, "供水排水", "urgent", "山阳镇龙皓路一带自来水管爆裂，路面积水。", "19900000001", ()),
    (300, "供水排水", "normal", "小区二次供水水箱多年未清洗，水有异味。", "19900000002", (
        (60, "water", "acknowledge", None),)),
    (2880, "市场消费", "normal", "超市出售过期牛奶，要求处理。", "19900000003", (
        (30, "market", "send_back", "经核实属供水问题，非本局职责"), (40, "taker", "transfer", WATER),
        (90, "water", "acknowledge", None))),
    (5000, "供水排水", "normal", "夜间水压过低，高层住户无水可用。", "19900000004", (
        (60, "water", "acknowledge", None), (600, "water", "reply", "已电话告知来电人：泵房已检修。"),
        (601, "water", "resolve", "泵房变频器已更换。"), (1440, "taker", "satisfaction", "满意"))),
    (7000, "供水排水", "normal", "雨水井堵塞，小区门口积水。", "19900000005", (
        (60, "water", "acknowledge", None), (600, "water", "reply", "已电话告知来电人：已疏通。"),
        (601, "water", "resolve", "已疏通。"), (1440, "taker", "satisfaction", "不满意"))),
)


def load(session: Session, clock: Clock) -> None:
    from scenarios.hotline_12345 import CONFIG

    orgs = {o.code: o for o in session.scalars(sa.select(Organisation).where(
        Organisation.code.in_((HOTLINE_OFFICE, WATER, MARKET))))}
    if len(orgs) < 3:
        return  # reference data not loaded
    office = orgs[HOTLINE_OFFICE]
    people = {
        "taker": as_staff(staff_account(session, f"demo-{HOTLINE_OFFICE}-taker1", office, "call_taker"), office,
                          "call_taker"),
        "water": as_staff(staff_account(session, f"demo-{WATER}-supervisor", orgs[WATER], "supervisor"),
                          orgs[WATER], "supervisor"),
        "market": as_staff(staff_account(session, f"demo-{MARKET}-supervisor", orgs[MARKET], "supervisor"),
                           orgs[MARKET], "supervisor"),
    }
    staff_account(session, f"demo-{HOTLINE_OFFICE}-taker2", office, "call_taker")
    staff_account(session, f"demo-{HOTLINE_OFFICE}-manager", office, "manager")
    staff_account(session, f"demo-{WATER}-staff", orgs[WATER], "staff")
    now = clock.now()
    for ago, category, urgency, text, phone, steps in SPECS:
        if session.scalar(sa.select(Ticket.id).where(Ticket.reporter_account_id == people["taker"].account_id,
                                                     Ticket.text == text)) is not None:
            continue
        created_at = now - timedelta(minutes=ago)
        at = FrozenClock(created_at)
        ticket = svc.create(session, clock=at, principal=people["taker"], config=CONFIG, data={
            "category": category, "text": text, "caller_phone": phone, "priority": urgency,
            "location": {"lat": 30.7612, "lon": 121.3551}, "address": "山阳镇"}).ticket
        for offset, who, action, arg in steps:
            at.set(created_at + timedelta(minutes=offset))
            fire_due(session, ticket, at)
            kw = {"clock": at, "config": CONFIG, "ticket_id": ticket.id, "principal": people[who]}
            if action == "acknowledge":
                svc.acknowledge(session, **kw)
            elif action == "resolve":
                svc.resolve(session, note=arg, **kw)
            elif action == "send_back":
                hl.send_back(session, reason=arg, **kw)
            elif action == "transfer":
                transfer(session, org=arg, **kw)
            elif action == "reply":
                hl.reply(session, content=arg, channel="phone", **kw)
            elif action == "satisfaction":
                hl.satisfaction(session, result=arg, via="call", **kw)
        fire_due(session, ticket, FrozenClock(now))
