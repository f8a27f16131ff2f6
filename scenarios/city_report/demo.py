"""Demo data of city-report (``flask seed demo``), idempotent by natural keys.

- Staff (password ``DEMO_PASSWORD``, usernames ``demo-<org code>-<role>`` as in
  property-repair): 区城运中心 ``supervisor`` and ``staff`` (they moderate and route), the
  supervisors of 区绿化市容局, 区交通委 and 区生态环境局 (and a 区绿化市容局 ``staff``),
  the ``admin`` of 石化街道, 山阳镇, 金山卫镇 and 朱泾镇.
- Residents ``demo-resident-1`` … ``3`` (dev login; no residence needed to report).
- Reports with a small generated photo, made with the engine's own services at past times:
  one waiting for moderation, one whose photo was refused, the others cleared by 城运中心
  staff and routed (one re-routed by hand, one ``其他`` routed by hand), acknowledged,
  resolved, confirmed and rated; escalations due by now are fired.

A second run finds every account and report (by reporter and text) and changes nothing.
"""
from __future__ import annotations

import io
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from PIL import Image
from sqlalchemy.orm import Session

from app.calendar import load_calendar_days
from app.clock import Clock, FrozenClock
from app.demo import as_resident, as_staff, dev_resident, staff_account
from app.moderation.models import ModerationItem
from app.moderation.service import decide
from app.storage.service import store_image
from auth.models import Account
from auth.organisations import Organisation
from scenarios.engines.workflow import moderation, routing
from scenarios.engines.workflow import service as svc
from scenarios.engines.workflow.demo import fire_due
from scenarios.engines.workflow.models import Ticket

OPS = "310116-bureau-city-ops"
STAFF = (  # (org code, role)
    (OPS, "supervisor"), (OPS, "staff"),
    ("310116-bureau-greening", "supervisor"), ("310116-bureau-greening", "staff"),
    ("310116-bureau-transport", "supervisor"), ("310116-bureau-ecology", "supervisor"),
    ("310116001", "admin"), ("310116113", "admin"), ("310116109", "admin"), ("310116101", "admin"),
)
SHIHUA, SHANYANG = (30.7160, 121.3380), (30.7600, 121.3500)
JINSHANWEI, ZHUJING = (30.7290, 121.3070), (30.8890, 121.1690)

# (resident, minutes ago, category, text, point, moderation decision, steps (minutes after, action[, arg]))
SPECS: tuple[tuple, ...] = (
    (0, 10, "市容环境", "人行道上堆放装修垃圾，影响通行。", SHIHUA, None, ()),
    (1, 90, "绿化", "行道树倒伏，压住了非机动车道。", SHANYANG, "cleared", ((5, "acknowledge"),)),
    (2, 240, "违章停车", "小区门口常年有车辆占用消防通道。", SHIHUA, "cleared", (
        (20, "acknowledge"), (120, "resolve", "已联系车主挪车，并张贴告知。"))),
    (0, 2880, "道路设施", "路口窨井盖破损下沉，车辆经过有响声。", SHANYANG, "cleared", (
        (30, "acknowledge"), (600, "resolve", "已更换井盖。"), (700, "confirm"), (701, "rate", 5))),
    (1, 1500, "占道经营", "早市摊贩占用人行道经营。", JINSHANWEI, "cleared", (
        (15, "transfer", "310116001"), (60, "acknowledge"), (300, "resolve", "已劝离摊贩，并加强巡查。"))),
    (2, 4320, "噪声", "夜间工地施工噪声扰民。", SHANYANG, "cleared", (
        (40, "acknowledge"), (1440, "resolve", "已责令夜间停工。"), (1500, "confirm"), (1501, "rate", 4))),
    (0, 600, "其他", "公交站台广告牌松动，刮风时晃动。", SHIHUA, "cleared", (
        (30, "transfer", "310116-bureau-transport"), (90, "acknowledge"))),
    (1, 30, "环境卫生", "垃圾桶满溢，无人清运。", ZHUJING, "rejected", ()),
)


def _photo(session: Session, owner: Account, clock: Clock, colour: tuple[int, int, int]) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "JPEG")
    upload = store_image(session, data=buffer.getvalue(), owner_account_id=owner.id, clock=clock,
                         upload_dir=current_app.extensions["settings"].upload_dir)
    return upload.public_id


def load(session: Session, clock: Clock) -> None:
    from scenarios.city_report import CONFIG

    load_calendar_days(session)
    orgs = {o.code: o for o in session.scalars(sa.select(Organisation).where(
        Organisation.code.in_({code for code, _ in STAFF})))}
    if len(orgs) < len({code for code, _ in STAFF}):
        return  # reference data not loaded
    staff = {(code, role): staff_account(session, f"demo-{code}-{role}", orgs[code], role) for code, role in STAFF}
    handlers = {orgs[code].id: (staff[(code, role)], orgs[code], role) for code, role in STAFF
                if role in ("supervisor", "admin")}
    ops = as_staff(staff[(OPS, "staff")], orgs[OPS], "staff")
    residents = [dev_resident(session, n) for n in (1, 2, 3)]
    now = clock.now()
    for i, (who, ago, category, text, (lat, lon), decision, steps) in enumerate(SPECS):
        reporter = residents[who]
        if session.scalar(sa.select(Ticket.id).where(Ticket.reporter_account_id == reporter.id,
                                                     Ticket.text == text)) is not None:
            continue
        created_at = now - timedelta(minutes=ago)
        at = FrozenClock(created_at)
        public_id = _photo(session, reporter, at, (40 * i % 255, 120, 200 - 20 * i))
        ticket = svc.create(session, clock=at, principal=as_resident(reporter), config=CONFIG, data={
            "category": category, "text": text, "location": {"lat": lat, "lon": lon}, "photos": [public_id]}).ticket
        if decision is not None:
            at.set(created_at + timedelta(minutes=min(5, ago)))
            for item in session.scalars(sa.select(ModerationItem).where(
                    ModerationItem.subject_type == moderation.MODERATION_SUBJECT,
                    ModerationItem.subject_id == str(ticket.id), ModerationItem.state == "pending_review")):
                decide(session, item_id=item.id, decision=decision, clock=at, staff_account_id=ops.account_id)
        for offset, action, *arg in steps:
            at.set(created_at + timedelta(minutes=offset))
            fire_due(session, ticket, at)
            kw = {"clock": at, "config": CONFIG, "ticket_id": ticket.id}
            account, org, role = handlers[ticket.org_id]
            handler = as_staff(account, org, role)
            if action == "transfer":
                routing.transfer(session, principal=ops, org=str(arg[0]), **kw)
            elif action == "acknowledge":
                svc.acknowledge(session, principal=handler, **kw)
            elif action == "resolve":
                svc.resolve(session, principal=handler, note=str(arg[0]), **kw)
            elif action == "confirm":
                svc.confirm(session, principal=as_resident(reporter), **kw)
            elif action == "rate":
                svc.rate(session, principal=as_resident(reporter), rating=int(arg[0]), **kw)
        fire_due(session, ticket, FrozenClock(now))


__all__ = ["SPECS", "load"]
