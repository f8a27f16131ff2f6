"""elderly-sos's part of a person's export and its retention: their enrolment (with contacts
and the devices they wore) and their alarms with their trail; as a contact, the rows naming
them. How long each is kept: retention.py."""
from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.privacy.parts import PersonalData, Rows, Section, Subject, plain
from app.privacy.retention import Keep
from scenarios.elderly_sos import retention
from scenarios.elderly_sos.models import SosAlarm, SosAlarmEvent, SosContact, SosEnrolment


def _collect(session: Session, subject: Subject) -> Mapping[str, Rows]:
    enrolments = session.scalars(sa.select(SosEnrolment).where(SosEnrolment.person_id == subject.person_id)
                                 .order_by(SosEnrolment.id)).all()
    ids = [e.id for e in enrolments]
    contacts = session.scalars(sa.select(SosContact).where(SosContact.enrolment_id.in_(ids))
                               .order_by(SosContact.id)).all() if ids else []
    alarms = session.scalars(sa.select(SosAlarm).where(sa.or_(
        SosAlarm.enrolment_id.in_(ids), SosAlarm.raised_by_account_id.in_(subject.account_ids)))
        .order_by(SosAlarm.id)).all()
    events = session.scalars(sa.select(SosAlarmEvent).where(SosAlarmEvent.alarm_id.in_([a.id for a in alarms]))
                             .order_by(SosAlarmEvent.id)).all() if alarms else []
    as_contact = session.scalars(sa.select(SosContact).where(SosContact.account_id.in_(subject.account_ids))
                                 .order_by(SosContact.id)).all()
    staff = ("enrolled_by_account_id",)
    return {"sos_enrolments": [plain(e, exclude=staff) for e in enrolments],
            "sos_contacts": [plain(c) for c in contacts],
            "sos_alarms": [plain(a, exclude=("acknowledged_by_account_id", "responder_account_id",
                                             "closed_by_account_id")) for a in alarms],
            "sos_alarm_events": [plain(e, exclude=("actor_account_id", "data")) for e in events],
            "sos_contact_of": [{"enrolment_id": c.enrolment_id, "relation": c.relation, "position": c.position}
                               for c in as_contact]}


PERSONAL_DATA = PersonalData(
    name="elderly-sos", tables=("sos_enrolments", "sos_contacts", "sos_devices", "sos_alarms", "sos_alarm_events"),
    sections=(Section("sos_enrolments", "应急呼叫登记（含住址、健康信息）"), Section("sos_contacts", "紧急联系人"),
              Section("sos_alarms", "应急呼叫记录"), Section("sos_alarm_events", "呼叫处理过程"),
              Section("sos_contact_of", "作为紧急联系人")),
    collect=_collect,
    retention=(
        Keep("sos_enrolments", "应急呼叫登记（住址、健康信息）", retention.AFTER_END,
             "在册期间保存；结束登记满1年清除健康信息，满3年且其呼叫记录均已删除后删除登记（假定依据：民政服务档案，"
             "待区民政局确认）", purge=retention.purge_enrolments),
        Keep("sos_contacts", "紧急联系人", retention.AFTER_END, "在册期间保存；结束登记满1年删除（仅用于应答呼叫）",
             purge=retention.purge_contacts),
        Keep("sos_devices", "呼叫设备", None, "设备台账，不含个人信息；结束登记时解除佩戴"),
        Keep("sos_alarms", "应急呼叫记录", retention.SERVICE_RECORD,
             "呼叫中心服务记录：结案后保存3年，到期连同处理过程删除；未结案的不删除（假定依据，待区民政局确认）",
             purge=retention.purge_alarms),
        Keep("sos_alarm_events", "呼叫处理过程", retention.SERVICE_RECORD, "随呼叫记录：结案后保存3年",
             purge=retention.purge_alarm_events)),
)
