"""elderly-sos's enrolment pages in the staff console: the list (masked, a committee its own),
the enrol form (the API's schema and refusals, the form kept), the enrolment page (masked, the
health notes only through the audited read), ending one, the call centre's device form —
visibility first, CSRF on every form."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from auth.models import AuditEntry
from scenarios.elderly_sos.models import SosContact, SosDevice, SosEnrolment
from tests.scenarios.elderly_sos.conftest import id_number, sos  # noqa: F401  (the elderly-sos world)
from tests.support.console import page_bytes, post, sign_in
from tests.support.factories import make_org, make_resident, make_staff

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")
PAGES = "/console/sos/enrolments"
OLD_ID = id_number("19380101", "003")


def _client(app, sos, who: str):  # noqa: F811
    client = app.test_client()
    sign_in(client, sos.accounts[who].username)
    return client


def _form(**over):
    form = {"id_number": OLD_ID, "hukou_shanghai": "yes", "lives_alone": "yes", "address": "朱泾镇测试小区3号楼101室",
            "health": "糖尿病，胰岛素", "c1_relation": "neighbour", "c1_name": "周邻居", "c1_phone": "13900000009",
            "c2_relation": "family", "c2_name": "钱儿子", "c2_phone": "13900000001"}
    return {**form, **over}


def _audits(sos, person_id: int) -> list[AuditEntry]:  # noqa: F811
    sos.session.expire_all()
    return list(sos.session.scalars(sa.select(AuditEntry).where(AuditEntry.subject_person_id == person_id)))


def test_the_list_is_masked_and_each_committee_sees_its_own(app, sos):  # noqa: F811
    member = _client(app, sos, "member")
    home = member.get("/console/").get_data(as_text=True)
    assert "应急呼叫 · 在册老人" in home
    text = member.get(PAGES).get_data(as_text=True)
    assert f'id="enrolment-{sos.enrolment_id}"' in text and "王**" in text and "王阿婆" not in text
    assert id_number("19400315") not in text and "高血压" not in text and 'id="enrol-new"' in text
    other = _client(app, sos, "other_member")
    assert f"enrolment-{sos.enrolment_id}" not in other.get(PAGES).get_data(as_text=True)
    operator = _client(app, sos, "op1")  # the call centre lists every one, enrols none
    listed = operator.get(PAGES).get_data(as_text=True)
    assert f"enrolment-{sos.enrolment_id}" in listed and 'id="enrol-new"' not in listed
    assert operator.get(f"{PAGES}/new").status_code == 403
    stranger = app.test_client()
    sign_in(stranger, make_staff(sos.session, make_org(sos.session, "property_company"), "manager").username)
    sos.session.commit()
    assert "在册老人" not in stranger.get("/console/").get_data(as_text=True)
    assert stranger.get(PAGES).status_code == 403
    assert app.test_client().get(PAGES).status_code == 302  # signed out: the sign-in page


def test_a_committee_member_enrols_a_person_with_contacts_in_order(app, sos):  # noqa: F811
    person = make_resident(sos.session, name="孙老伯", id_no=OLD_ID, level="verified")
    sos.session.commit()
    member = _client(app, sos, "member")
    form = member.get(f"{PAGES}/new").get_data(as_text=True)
    assert 'name="c3_phone"' in form and 'name="committee_org_id"' not in form  # a committee enrols for itself
    forged = member.post(f"{PAGES}/new", data={**_form(), "csrf_token": "forged"})
    assert forged.status_code == 400
    refused = post(member, f"{PAGES}/new", {**_form(), "hukou_shanghai": ""}, page=f"{PAGES}/new")
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "仅限本市户籍" in text and "朱泾镇测试小区3号楼101室" in text  # the form kept
    bad_phone = post(member, f"{PAGES}/new", _form(c2_phone="12345"), page=f"{PAGES}/new")
    assert bad_phone.status_code == 422 and "contacts.1.phone" in bad_phone.get_data(as_text=True)
    assert sos.session.scalar(sa.select(SosEnrolment.id).where(SosEnrolment.person_id == person.person_id)) is None
    done = post(member, f"{PAGES}/new", _form(), page=f"{PAGES}/new")
    assert done.status_code == 302 and "done=enrol" in done.headers["Location"]
    sos.session.expire_all()
    e = sos.session.scalar(sa.select(SosEnrolment).where(SosEnrolment.person_id == person.person_id))
    assert (e.committee_org_id, e.health, e.state) == (sos.orgs["member"].id, "糖尿病，胰岛素", "active")
    contacts = sos.session.scalars(sa.select(SosContact).where(SosContact.enrolment_id == e.id)
                                   .order_by(SosContact.position)).all()
    assert [(c.position, c.relation, c.name) for c in contacts] == [(1, "neighbour", "周邻居"), (2, "family", "钱儿子")]
    assert contacts[1].account_id == sos.accounts["daughter"].id  # a resident with that phone follows in the app
    page = member.get(done.headers["Location"]).get_data(as_text=True)
    assert "孙**" in page and "139****0009" in page and "13900000009" not in page and "糖尿病" not in page
    assert page.index("周**") < page.index("钱**")
    again = post(member, f"{PAGES}/new", _form(), page=f"{PAGES}/new")
    assert again.status_code == 409  # one active enrolment per person


def test_civil_affairs_names_the_committee_and_an_under_80_is_refused(app, sos):  # noqa: F811
    make_resident(sos.session, name="孙老伯", id_no=OLD_ID, level="verified")
    sos.session.commit()
    civil = _client(app, sos, "civil")
    assert 'name="committee_org_id"' in civil.get(f"{PAGES}/new").get_data(as_text=True)
    assert post(civil, f"{PAGES}/new", _form(), page=f"{PAGES}/new").status_code == 422  # which committee?
    young = post(civil, f"{PAGES}/new", _form(id_number=id_number("19500101", "002"),
                                              committee_org_id=str(sos.orgs["member"].id)), page=f"{PAGES}/new")
    assert young.status_code == 422 and "须年满 80 周岁" in young.get_data(as_text=True)
    done = post(civil, f"{PAGES}/new", _form(committee_org_id=str(sos.orgs["member"].id)), page=f"{PAGES}/new")
    assert done.status_code == 302


def test_the_health_notes_only_through_the_audited_read(app, sos):  # noqa: F811
    person_id = sos.session.get(SosEnrolment, sos.enrolment_id).person_id
    url = f"{PAGES}/{sos.enrolment_id}"
    member = _client(app, sos, "member")
    page = member.get(url).get_data(as_text=True)
    assert "高血压" not in page and 'id="read-health"' in page
    ask = member.get(f"{url}/health").get_data(as_text=True)
    assert "高血压" not in ask and 'name="reason"' in ask
    assert post(member, f"{url}/health", {"reason": ""}).status_code == 422 and _audits(sos, person_id) == []
    shown = post(member, f"{url}/health", {"reason": "上门前了解用药情况"})
    assert shown.status_code == 200 and "高血压，服药中" in shown.get_data(as_text=True)
    (entry,) = _audits(sos, person_id)
    assert (entry.actor_account_id, entry.acting_org_id, entry.fields, entry.reason) == (
        sos.accounts["member"].id, sos.orgs["member"].id, ["health"], "上门前了解用药情况")
    admin = _client(app, sos, "admin")  # the district sees the enrolment, reads no health notes
    assert admin.get(url).status_code == 200 and 'id="read-health"' not in admin.get(url).get_data(as_text=True)
    assert admin.get(f"{url}/health").status_code == 403
    assert post(admin, f"{url}/health", {"reason": "好奇"}).status_code == 403 and len(_audits(sos, person_id)) == 1
    other = _client(app, sos, "other_member")  # another committee: it does not exist for them
    for path in (url, f"{url}/health"):
        hidden, missing = other.get(path), other.get(path.replace(str(sos.enrolment_id), "999999999"))
        assert hidden.status_code == missing.status_code == 404 and page_bytes(hidden) == page_bytes(missing)
    assert post(other, f"{url}/health", {"reason": "x x"}).status_code == 404 and len(_audits(sos, person_id)) == 1


def test_ending_an_enrolment_releases_its_devices(app, sos):  # noqa: F811
    url = f"{PAGES}/{sos.enrolment_id}"
    assert post(_client(app, sos, "op1"), f"{url}/end", {"reason": "died"}).status_code == 403
    assert post(_client(app, sos, "other_member"), f"{url}/end", {"reason": "died"}).status_code == 404
    member = _client(app, sos, "member")
    assert 'id="do-end"' in member.get(url).get_data(as_text=True)
    assert post(member, f"{url}/end", {"reason": "gone"}).status_code == 422
    done = post(member, f"{url}/end", {"reason": "moved_in_with_family", "on": "2026-03-01"})
    assert done.status_code == 302
    e = sos.session.get(SosEnrolment, sos.enrolment_id)
    sos.session.refresh(e)
    assert (e.state, e.end_reason, e.ended_on.isoformat()) == ("ended", "moved_in_with_family", "2026-03-01")
    assert sos.session.scalars(sa.select(SosDevice).where(SosDevice.enrolment_id == e.id)).all() == []
    page = member.get(url).get_data(as_text=True)
    assert "与家人同住" in page and 'id="do-end"' not in page
    assert post(member, f"{url}/end", {"reason": "died"}).status_code == 409


def test_the_call_centre_manager_registers_a_device_worn_by_the_person(app, sos):  # noqa: F811
    url = f"{PAGES}/{sos.enrolment_id}"
    loose = sos.devices["loose"][0]
    manager = _client(app, sos, "cc_manager")
    page = manager.get(url).get_data(as_text=True)
    assert 'id="do-device"' in page and loose in page and sos.devices["worn"][0] not in page  # worn: not offered
    assert post(_client(app, sos, "member"), f"{url}/devices", {"device_uid": loose, "kind": "pull_cord"}
                ).status_code == 403
    assert post(manager, f"{url}/devices", {"device_uid": loose, "kind": "pull_cord"}).status_code == 302
    sos.session.expire_all()
    worn = sos.session.scalars(sa.select(SosDevice).where(SosDevice.enrolment_id == sos.enrolment_id)).all()
    assert sorted(d.kind for d in worn) == ["pull_cord", "wearable"]
    assert "拉绳报警器" in manager.get(url).get_data(as_text=True)
