"""A resident who is not enrolled pressing their own app's button: not anonymous, so (where in
doubt, alert a human) the alarm goes to the operators with what is known — the caller's masked
name, age and phone — merged like any other within 2 minutes; the call centre calls back
through the audited ``caller-phone``; asking to alarm for someone else is still refused."""
from __future__ import annotations

import sqlalchemy as sa

from auth.models import AuditEntry
from scenarios.elderly_sos.models import SosAlarm
from scenarios.engines.dispatch.models import DispatchOffer
from tests.scenarios.elderly_sos.conftest import id_number
from tests.support.factories import make_resident


def _caller(sos) -> str:
    sos.accounts["alone"] = make_resident(sos.session, name="孙独居", id_no=id_number("19480202", "003"),
                                          phone="13900000009", level="verified")
    sos.session.commit()
    return "alone"


def test_an_unenrolled_residents_own_press_reaches_the_operators(sos):
    sos.on_duty("op1", "op2")
    who = _caller(sos)
    first = sos.press(who)
    again = sos.press(who, expect=200)  # within 2 minutes: the same alarm
    assert again["id"] == first["id"] and again["merged"] is True
    alarm = sos.alarm(first["id"])
    assert (alarm.kind, alarm.enrolment_id, alarm.device_id, alarm.presses) == ("button", None, None, 2)
    assert str(alarm.raised_by_account_id) == sos.id(who)
    offered = sos.session.scalars(sa.select(DispatchOffer.agent_id).where(DispatchOffer.job_id == alarm.job_id)).all()
    assert len(offered) == 2  # every on-duty operator at once
    person = sos.call("GET", "op1", f"/alarms/{first['id']}")["person"]
    assert person["enrolled"] is False and person["age"] == 78
    assert person["phone"] == "139****0009" and "孙独居" not in str(person)
    assert sos.call("GET", who, f"/alarms/{first['id']}")["state"] == "open"  # they follow it in their app
    sos.clock.advance(seconds=130)
    assert sos.press(who)["id"] != first["id"]  # a new press after the window: a new alarm


def test_the_call_centre_calls_back_through_an_audited_read(sos):
    who = _caller(sos)
    aid = sos.press(who)["id"]
    path = f"/alarms/{aid}/caller-phone"
    sos.call("POST", "op1", path, {}, expect=422)  # a reason is required
    assert sos.call("POST", "op1", path, {"reason": "回拨确认情况"}) == {"phone": "13900000009"}
    entry = sos.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert entry.fields == ["phone"] and entry.reason == "回拨确认情况" and str(entry.actor_account_id) == sos.id("op1")
    sos.call("POST", "member", path, {"reason": "x"}, expect=404)  # no committee of theirs: not visible
    sos.call("POST", "civil", path, {"reason": "x"}, expect=403)  # 区民政局 sees the alarm, does not call back
    enrolled = sos.press()["id"]
    sos.call("POST", "op1", f"/alarms/{enrolled}/caller-phone", {"reason": "x"}, expect=404)
    assert sos.session.get(SosAlarm, aid).enrolment_id is None
