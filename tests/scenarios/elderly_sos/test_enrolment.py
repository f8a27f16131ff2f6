"""Enrolment: who may enrol whom (80+ from the verified ID number, 本市户籍, living alone), the
contacts in order and masked, health notes read only with a reason and audited, the end of an
enrolment with its reason and date releasing the devices."""
from __future__ import annotations

import sqlalchemy as sa

from auth.models import AuditEntry
from scenarios.elderly_sos.models import SosDevice, SosEnrolment
from tests.scenarios.elderly_sos.conftest import id_number
from tests.support.factories import make_resident

BODY = {"hukou_shanghai": True, "lives_alone": True, "address": "朱泾镇测试小区3号楼501室", "contacts": []}


def test_eligibility_is_checked(sos):
    young = {**BODY, "id_number": id_number("19500101", "002")}
    assert sos.call("POST", "member", "/enrolments", young, expect=422)["code"] == "sos_not_eligible"
    make_resident(sos.session, name="未认证", id_no=id_number("19300101", "004"), level="basic")
    sos.session.commit()
    unverified = {**BODY, "id_number": id_number("19300101", "004")}
    assert sos.call("POST", "member", "/enrolments", unverified, expect=422)["code"] == "sos_person_unverified"
    granny = {**BODY, "id_number": id_number("19400315")}
    assert sos.call("POST", "member", "/enrolments", {**granny, "hukou_shanghai": False},
                    expect=422)["errors"] == {"hukou_shanghai": ["仅限本市户籍。"]}
    assert sos.call("POST", "member", "/enrolments", {**granny, "lives_alone": False}, expect=422)["code"] == \
        "sos_not_eligible"
    assert sos.call("POST", "member", "/enrolments", granny, expect=409)["code"] == "sos_already_enrolled"
    sos.call("POST", "op1", "/enrolments", granny, expect=403)  # the call centre does not enrol
    sos.call("POST", "daughter", "/enrolments", granny, expect=403)


def test_civil_affairs_enrols_for_a_committee_it_names(sos):
    make_resident(sos.session, name="钱阿公", id_no=id_number("19350505", "005"), level="verified")
    sos.session.commit()
    body = {**BODY, "id_number": id_number("19350505", "005")}
    assert "committee_org_id" in sos.call("POST", "civil", "/enrolments", body, expect=422)["errors"]
    not_a_committee = {**body, "committee_org_id": sos.orgs["op1"].id}
    assert "committee_org_id" in sos.call("POST", "civil", "/enrolments", not_a_committee, expect=422)["errors"]
    enrolled = sos.call("POST", "civil", "/enrolments", {**body, "committee_org_id": sos.orgs["member"].id},
                        expect=201)
    assert enrolled["committee"] == sos.orgs["member"].name


def test_the_enrolment_as_staff_and_family_see_it_and_health_reads_are_audited(sos):
    seen = sos.call("GET", "member", f"/enrolments/{sos.enrolment_id}")
    assert seen["name"] == "王**" and seen["age"] == 85 and seen["has_health_notes"] is True
    assert [(c["position"], c["relation"], c["phone"], c["follows_in_app"]) for c in seen["contacts"]] == [
        (1, "family", "139****0001", True), (2, "neighbour", "139****0002", False)]
    assert "health" not in seen
    sos.call("GET", "daughter", f"/enrolments/{sos.enrolment_id}")
    sos.call("GET", "stranger", f"/enrolments/{sos.enrolment_id}", expect=404)
    sos.call("GET", "other_member", f"/enrolments/{sos.enrolment_id}", expect=404)
    sos.call("POST", "op1", f"/enrolments/{sos.enrolment_id}/health", {"reason": "x"}, expect=422)
    notes = sos.call("POST", "op1", f"/enrolments/{sos.enrolment_id}/health", {"reason": "接警时了解病史"})
    assert notes == {"health": "高血压，服药中"}
    sos.call("POST", "admin", f"/enrolments/{sos.enrolment_id}/health", {"reason": "查看"}, expect=403)
    sos.session.expire_all()
    entry = sos.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert (str(entry.actor_account_id), entry.fields, entry.reason) == (sos.id("op1"), ["health"], "接警时了解病史")
    stored = sos.session.execute(sa.text("SELECT health, address FROM sos_enrolments WHERE id = :i"),
                                 {"i": sos.enrolment_id}).one()
    assert "高血压" not in stored.health and "朱泾" not in stored.address  # encrypted at rest


def test_ending_an_enrolment_releases_its_devices(sos):
    sos.call("POST", "other_member", f"/enrolments/{sos.enrolment_id}/end", {"reason": "died"}, expect=404)
    ended = sos.call("POST", "member", f"/enrolments/{sos.enrolment_id}/end",
                     {"reason": "moved_in_with_family", "on": "2026-03-01"})
    assert (ended["state"], ended["end_reason"], ended["ended_on"], ended["devices"]) == (
        "ended", "moved_in_with_family", "2026-03-01", [])
    sos.session.expire_all()
    worn = sos.session.scalars(sa.select(SosDevice).where(SosDevice.released_at.is_not(None))).all()
    assert len(worn) == 1 and worn[0].enrolment_id is None
    assert sos.session.get(SosEnrolment, sos.enrolment_id).state == "ended"
    # The wearable still raises an alarm (to an operator, with whatever is known); so does the person's
    # app, as a caller no longer enrolled (no committee, no visit: the operators call back).
    assert sos.call("POST", "worn", "/alarms", expect=201)["id"]
    own = sos.alarm(sos.press(expect=201)["id"])
    assert own.enrolment_id is None and own.committee_org_id is None and own.device_id is None
    asked = sos.press(expect=403, enrolment_id=sos.enrolment_id)  # for the ended enrolment itself: refused
    assert asked["code"] == "sos_not_enrolled"
