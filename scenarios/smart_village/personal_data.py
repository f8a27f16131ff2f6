"""smart-village's part of a person's export: which village notices they read and confirmed."""
from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.privacy.parts import PersonalData, Rows, Section, Subject, plain
from app.privacy.retention import Keep
from scenarios.smart_village.models import SvNotice, SvReceipt


def _collect(session: Session, subject: Subject) -> Mapping[str, Rows]:
    if not subject.account_ids:
        return {"village_notice_receipts": []}
    rows = session.execute(sa.select(SvReceipt, SvNotice.title).join(SvNotice, SvNotice.id == SvReceipt.notice_id)
                           .where(SvReceipt.account_id.in_(subject.account_ids)).order_by(SvReceipt.id))
    return {"village_notice_receipts": [{**plain(r, exclude=("account_id",)), "title": title} for r, title in rows]}


PERSONAL_DATA = PersonalData(
    name="smart-village", tables=("sv_receipts",),
    sections=(Section("village_notice_receipts", "村务公开阅读与确认记录"),), collect=_collect,
    retention=(Keep("sv_notices", "村务公开的发布人", None, "工作记录（村务公开档案）"),
               Keep("sv_receipts", "村务通知的阅读与确认", None, "随通知保存；账号注销时删除或匿名化（待实现）"),),
)
