"""elderly-sos end to end on SQLite with a frozen clock and the real worker: presses merge,
every on-duty operator is offered an alarm at once, one acknowledges (the other 409), the
chain runs step by step when nobody does, responders visit, an alarm closes with an outcome,
the family follows it."""
from __future__ import annotations

import sqlalchemy as sa

from app.notify.models import OutboxMessage
from app.timers import Timer
from scenarios.elderly_sos.models import SosAlarm
from scenarios.engines.dispatch.models import DispatchOffer
from tests.scenarios.elderly_sos.conftest import id_number
from tests.support.factories import make_resident


def offered(sos, alarm_id: int) -> set[str]:
    job = sos.session.scalar(sa.select(SosAlarm.job_id).where(SosAlarm.id == alarm_id))
    agents = sos.session.execute(sa.text(
        "SELECT a.account_id FROM dispatch_offers o JOIN dispatch_agents a ON a.id = o.agent_id "
        "WHERE o.job_id = :j AND o.state = 'pending'"), {"j": job}).scalars()
    by_id = {str(v.id): k for k, v in sos.accounts.items()}
    return {by_id[str(a)] for a in agents}


def steps(sos, alarm_id: int) -> list[tuple[str, int, str]]:
    return [(e.data["chain"], e.data["level"], e.data["step"]) for e in sos.trail(alarm_id, "escalated")]


def test_a_press_is_offered_to_every_on_duty_operator_and_presses_within_two_minutes_merge(sos):
    sos.on_duty("op1", "op2")
    first = sos.press()
    assert first["state"] == "open" and first["merged"] is False and "person" not in first  # residents: no staff view
    assert offered(sos, first["id"]) == {"op1", "op2"}
    job = sos.alarm(first["id"]).job_id
    told = sos.session.scalars(sa.select(OutboxMessage.recipient_id).where(
        OutboxMessage.event_key.like(f"dispatch:{job}:offer:%"), OutboxMessage.urgent.is_(True))).all()
    assert set(told) == {sos.id("op1"), sos.id("op2")}
    sos.clock.advance(seconds=100)
    again = sos.press("daughter", expect=200)  # a relative's button: the same emergency
    assert (again["id"], again["merged"], again["presses"]) == (first["id"], True, 2)
    sos.clock.advance(seconds=100)  # 100 s after the last press: still merged
    assert sos.call("POST", "worn", "/alarms", expect=200)["id"] == first["id"]
    sos.clock.advance(seconds=121)
    later = sos.press(expect=201)
    assert later["id"] != first["id"]


def test_alarms_at_once_are_each_offered_to_every_operator(sos):
    """An operator holds the offers of many alarms (keep_offers): none waits for another."""
    sos.on_duty("op1", "op2")
    first = sos.press()
    second = sos.call("POST", "loose", "/alarms", expect=201)
    assert offered(sos, first["id"]) == offered(sos, second["id"]) == {"op1", "op2"}
    assert len(sos.call("GET", "op1", "/agents/me/offers")["items"]) == 2
    sos.ack("op1", second)  # serving one: op2 still holds both, and the first is still op2's to take
    sos.ack("op2", first)


def test_who_may_press(sos):
    sos.call("POST", None, "/alarms", expect=401)
    sos.call("POST", "op1", "/alarms", expect=403)
    # a resident asking to alarm for someone they may not: refused (their own button: test_unenrolled.py)
    asked = sos.call("POST", "stranger", "/alarms", {"enrolment_id": sos.enrolment_id}, expect=403)
    assert asked["code"] == "sos_not_enrolled"
    loose = sos.call("POST", "loose", "/alarms", expect=201)  # nobody known wears it: still an alarm
    alarm = sos.alarm(loose["id"])
    assert alarm.enrolment_id is None and alarm.kind == "device" and alarm.committee_org_id is None
    staff_view = sos.call("GET", "op1", f"/alarms/{loose['id']}")
    assert staff_view["person"] is None and staff_view["device_id"] is not None


def test_one_operator_acknowledges_the_other_is_told_409_and_the_visit_is_offered(sos):
    sos.on_duty("op1", "op2")
    alarm = sos.press()
    sos.clock.advance(seconds=20)
    sos.ack("op1", alarm)
    assert sos.ack("op2", alarm, expect=409)["code"] == "already_taken"
    a = sos.alarm(alarm["id"])
    assert a.state == "acknowledged" and a.chain == "arrival" and str(a.acknowledged_by_account_id) == sos.id("op1")
    assert [e.data["late"] for e in sos.trail(alarm["id"], "acknowledged")] == [False]
    visit = {o[3] for o in sos.outbox(alarm["id"], "sos_visit")}
    assert visit == {sos.id("member"), sos.id("grid")}
    pending = sos.session.scalars(sa.select(Timer).where(Timer.kind.like("elderly_sos.%"),
                                                         Timer.subject_id == str(a.job_id),
                                                         Timer.state == "pending")).all()
    assert {t.kind for t in pending} == {"elderly_sos.arrival"}
    sos.tick(60)
    assert steps(sos, alarm["id"]) == []  # acknowledged in time: no step of the acknowledgement chain
    assert ("sos_update", "wechat", "account", sos.id("daughter")) in sos.outbox(alarm["id"], "sos_update")
    family = sos.call("GET", "daughter", f"/alarms/{alarm['id']}")
    assert family["state"] == "acknowledged" and "person" not in family
    assert [(i["id"], i["state"]) for i in sos.call("GET", "daughter", "/alarms")["items"]] == [
        (alarm["id"], "acknowledged")]
    assert sos.call("GET", "stranger", "/alarms")["items"] == []


def test_a_missed_acknowledgement_runs_the_chain_each_step_once_the_last_repeating(sos):
    sos.on_duty("op1")
    alarm = sos.press()
    aid = alarm["id"]
    sos.tick(59)
    assert steps(sos, aid) == []
    sos.tick(1)
    sos.tick(0)
    assert steps(sos, aid) == [("ack", 1, "other_operators")]
    told = {(o[2], o[3]) for o in sos.outbox(aid, "sos_escalated")}
    assert ("account", sos.id("op2")) in told and ("account", sos.id("cc_manager")) in told
    sos.tick(120)
    assert steps(sos, aid)[-1] == ("ack", 2, "contacts")
    contacts = [o for o in sos.outbox(aid, "sos_escalated") if o[2] == "sos_contact" or o[3] == sos.id("daughter")]
    assert ("sos_escalated", "sms", "account", sos.id("daughter")) in contacts
    assert ("sos_escalated", "wechat", "account", sos.id("daughter")) in contacts
    assert any(o[1] == "sms" and o[2] == "sos_contact" for o in contacts)  # the neighbour: SMS to the phone
    sos.tick(180)
    assert steps(sos, aid)[-1] == ("ack", 3, "committee")
    sos.tick(180)
    last = sos.trail(aid, "escalated")[-1]
    assert (last.data["step"], last.data["instruction"]) == ("supervisor", "call_120")
    told = {o[3] for o in sos.outbox(aid, "sos_escalated")}
    assert sos.id("civil") in told
    sos.tick(299)
    assert len(steps(sos, aid)) == 4
    sos.tick(1)
    sos.tick(300)
    assert [lv for _, lv, _ in steps(sos, aid)] == [1, 2, 3, 4, 5, 6]
    sos.ack("op1", alarm)  # late, and nothing more fires
    assert [e.data["late"] for e in sos.trail(aid, "acknowledged")] == [True]
    sos.tick(600)
    assert [lv for c, lv, _ in steps(sos, aid) if c == "ack"] == [1, 2, 3, 4, 5, 6]


def test_with_no_operator_on_duty_the_chain_starts_at_once(sos):
    alarm = sos.press()
    assert [e.action for e in sos.trail(alarm["id"])][:2] == ["raised", "no_operator_on_duty"]
    sos.tick(0)
    assert steps(sos, alarm["id"]) == [("ack", 1, "other_operators")]
    assert sos.session.scalar(sa.select(sa.func.count()).select_from(DispatchOffer)) == 0
    sos.on_duty("op2")  # comes on duty: the next round offers it to them
    sos.tick(60)
    assert offered(sos, alarm["id"]) == {"op2"}


def test_a_person_with_no_contact_with_a_phone_falls_back_to_the_committee(sos):
    sos.accounts["grandpa"] = make_resident(sos.session, name="孙阿爷", id_no=id_number("19380101", "013"),
                                            level="verified")
    sos.session.commit()
    sos.call("POST", "member", "/enrolments", {
        "id_number": id_number("19380101", "013"), "hukou_shanghai": True, "lives_alone": True,
        "address": "朱泾镇测试小区2号楼101室", "contacts": []}, expect=201)
    alarm = sos.press("grandpa")
    sos.tick(0)
    sos.tick(60)
    sos.tick(120)
    contacts = sos.trail(alarm["id"], "escalated")[-1]
    assert (contacts.data["step"], contacts.data["fallback"]) == ("contacts", "committee")
    assert {o[3] for o in sos.outbox(alarm["id"], "sos_escalated")} >= {sos.id("member"), sos.id("grid")}


def test_visit_arrival_and_close_with_an_outcome(sos):
    sos.on_duty("op1")
    alarm = sos.press()
    aid = alarm["id"]
    assert sos.act("op1", aid, "close", {"outcome": "false_alarm"}, expect=409)["code"] == "invalid_transition"
    sos.ack("op1", alarm)
    sos.act("other_member", aid, "visit", expect=404)  # another committee's member does not see it
    sos.act("member", aid, "visit")
    assert sos.act("grid", aid, "visit", expect=409)["code"] == "already_taken"
    sos.clock.advance(minutes=12)
    sos.act("member", aid, "arrived")
    a = sos.alarm(aid)
    assert a.state == "on_scene" and a.chain is not None
    sos.tick(3600)
    assert steps(sos, aid) == []  # arrived in time: the arrival chain never fired
    sos.act("op1", aid, "close", {"outcome": "other"}, expect=422)
    closed = sos.act("op1", aid, "close", {"outcome": "helped_at_home"})
    assert closed["state"] == "closed" and closed["outcome"] == "helped_at_home"
    # The operator's call ended with it: they are free for the next alarm.
    assert sos.call("GET", "op1", "/agents/me")["job_id"] is None
    family = sos.call("GET", "daughter", f"/alarms/{aid}")
    assert [t["action"] for t in family["trail"]] == ["raised", "acknowledged", "visit_taken", "arrived", "closed"]


def test_a_missed_arrival_runs_the_chain_again(sos):
    sos.on_duty("op1")
    alarm = sos.press()
    sos.ack("op1", alarm)
    sos.tick(30 * 60 - 1)
    assert steps(sos, alarm["id"]) == []
    sos.tick(1)
    assert steps(sos, alarm["id"]) == [("arrival", 1, "other_operators")]


def test_board_and_figures(sos):
    sos.on_duty("op1")
    first = sos.press()
    sos.clock.advance(seconds=30)
    sos.ack("op1", first)
    sos.act("member", first["id"], "visit")
    sos.clock.advance(minutes=10)
    sos.act("member", first["id"], "arrived")
    sos.act("op1", first["id"], "close", {"outcome": "taken_to_hospital"})
    second = sos.call("POST", "loose", "/alarms", expect=201)
    sos.clock.advance(seconds=90)
    board = sos.call("GET", "op2", "/alarms")["items"]
    assert [(i["id"], i["overdue"]) for i in board] == [(second["id"], True)]
    sos.call("GET", "member", "/alarms")  # a committee sees its own only
    assert sos.call("GET", "member", "/alarms")["items"] == []
    figures = sos.call("GET", "cc_manager", "/figures?month=2026-03")
    assert figures["alarms"] == 2 and figures["acknowledgement"]["within_limit"] == 1
    assert figures["arrival"]["median_seconds"] == 600 and figures["outcomes"] == {"taken_to_hospital": 1}
    sos.call("GET", "member", "/figures?month=2026-03", expect=403)


def test_the_board_reads_the_committees_in_one_query_however_many_alarms(sos):
    """The board named each alarm's committee with a ``session.get`` a row: 200 open alarms, 200
    queries (the console's board cost ~70 ms of CPU a request on PostgreSQL). Three alarms cost
    the statements one does, and each still names its committee."""
    from tests.support.database import statements

    sos.on_duty("op1")
    sos.press()
    sos.headers("op2")  # its token minted (and committed) before counting
    with statements(sos.session) as one:
        board = sos.call("GET", "op2", "/alarms")["items"]
    committee = board[0]["committee"]
    assert committee
    for _ in range(2):
        sos.clock.advance(minutes=3)  # past the merge window: a new alarm of the same person
        sos.press()
    loose = sos.call("POST", "loose", "/alarms", expect=201)  # a wearable of nobody known: no committee
    sos.headers("op2")
    with statements(sos.session) as four:
        board = sos.call("GET", "op2", "/alarms")["items"]
    assert len(four) == len(one)
    assert [i["committee"] for i in board] == [committee] * 3 + [None]
    assert board[-1]["id"] == loose["id"]


def test_a_new_alarm_arms_its_chain_without_cancelling_timers_it_cannot_have(sos):
    """A new alarm never had a chain: arming the acknowledgement chain cancels nothing (two
    ``UPDATE timers`` a press before), and its steps are armed all the same; acknowledging
    (a chain running) still cancels it and arms the arrival chain."""
    from tests.support.database import statements

    sos.on_duty("op1")
    sos.headers("granny")
    with statements(sos.session) as seen:
        alarm = sos.press()
    assert not [s for s in seen if s.lstrip().startswith("UPDATE timers")]
    job = sos.alarm(alarm["id"]).job_id
    sos.session.expire_all()
    pending = sos.session.execute(sa.select(Timer.kind, Timer.state).where(
        Timer.subject_id == str(job), Timer.kind.like("elderly_sos.%"))).all()
    assert pending and {tuple(p) for p in pending} == {("elderly_sos.ack", "pending")}
    sos.ack("op1", alarm)
    sos.session.expire_all()
    states = {tuple(r) for r in sos.session.execute(sa.select(Timer.kind, Timer.state).where(
        Timer.subject_id == str(job), Timer.kind.like("elderly_sos.%"))).all()}
    assert ("elderly_sos.ack", "cancelled") in states and ("elderly_sos.arrival", "pending") in states
    assert ("elderly_sos.ack", "pending") not in states
