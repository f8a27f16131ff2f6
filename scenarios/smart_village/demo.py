"""Demo data of smart-village for 金山卫镇星火村 and the 9 demonstration villages (the reference
villages marked ``smart_village``): a committee member (``demo-<committee code>-committee``), two
villagers (``demo-resident-<3500 + 2i>`` and ``<3501 + 2i>``, verified residences at houses 2 and
3), a notice and three 村务公开 disclosures (finances, a project, a decision; the finances are
important), read by both villagers and confirmed by the first. Idempotent (a village that has
notices is left alone)."""
from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock, FrozenClock
from app.demo import as_resident, as_staff, dev_resident, staff_account
from app.places.models import Village
from app.places.seed import reference_codes
from auth.models import Residence
from auth.organisations import Organisation
from scenarios.smart_village import service as svc
from scenarios.smart_village.models import SvNotice

NOTICES = (
    (12, {"kind": "decision", "title": "村民代表大会决议：村道路灯改造", "important": False,
          "body": "经村民代表大会讨论通过，本年度对村内主干道路灯进行节能改造，费用由村集体经济列支。"}),
    (8, {"kind": "project", "title": "河道整治工程进展公开", "important": False,
         "body": "村内河道清淤整治工程已完成 70%，预计下月底完工，施工期间请注意安全。"}),
    (3, {"kind": "finance", "title": "本季度村级财务收支公开", "important": True,
         "body": "本季度村集体收入 12.6 万元（土地租金、物业出租），"
                 "支出 8.4 万元（环境整治、公益事业）。明细见附件。"}),
    (1, {"kind": "notice", "title": "停水通知", "important": False,
         "body": "因供水管道检修，本周六 8:00–14:00 全村停水，请提前储水。"}),
)


def load(session: Session, clock: Clock) -> dict[str, int]:
    villages = session.scalars(sa.select(Village).where(Village.code.in_(list(reference_codes("villages"))))
                               .order_by(Village.code)).all()
    made = 0
    for i, village in enumerate(v for v in villages if (v.attributes or {}).get("smart_village")):
        if session.scalar(sa.select(SvNotice.id).where(SvNotice.village_id == village.id).limit(1)):
            continue
        committee = session.get(Organisation, village.committee_id)
        member = as_staff(staff_account(session, f"demo-{committee.code}-committee", committee, "committee"),
                          committee, "committee")
        villagers = [dev_resident(session, 3500 + 2 * i + k) for k in (0, 1)]
        for k, villager in enumerate(villagers):
            session.add(Residence(person_id=villager.person_id, village_id=village.id, house_number=2 + k,
                                  valid_from=date(2020, 1, 1), status="verified"))
        session.flush()
        for days_ago, data in NOTICES:
            at = FrozenClock(clock.now() - timedelta(days=days_ago))
            notice = svc.publish(session, clock=at, principal=member, village=village, data=dict(data))
            for k, villager in enumerate(villagers):
                svc.read(session, clock=at, principal=as_resident(villager), notice=notice)
                if notice.important and k == 0:
                    svc.confirm(session, clock=at, principal=as_resident(villager), notice=notice)
        made += 1
    return {"smart_village_villages": made}
