"""Administration pages: an organisation's staff (invite, role, disable, contact points), the
audit log, the residence claims and their audited reveal — the API's services behind them."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from auth.models import Account, AuditEntry, Membership, Residence
from tests.support.console import post, sign_in

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")


def _membership(session, name: str, wf) -> Membership:
    return session.scalar(sa.select(Membership).where(Membership.account_id == wf.id(name)))


def test_a_manager_invites_changes_a_role_and_disables_a_member_who_is_out_at_once(app, client, wf, session):
    code = wf.world.companies[0].code
    tech = app.test_client()
    sign_in(tech, wf.accounts["tech_a"].username)
    sign_in(client, wf.accounts["manager_a"].username)
    page = client.get("/console/staff")
    assert page.status_code == 302 and page.headers["Location"].endswith(f"/console/orgs/{code}/staff")
    invited = post(client, f"/console/orgs/{code}/staff", {"username": "new-tech-01", "role": "technician"})
    assert invited.status_code == 200 and "初始密码" in invited.get_data(as_text=True)
    assert session.scalar(sa.select(Account).where(Account.username == "new-tech-01")) is not None
    m = _membership(session, "tech_a2", wf)
    assert post(client, f"/console/orgs/{code}/staff/{m.id}", {"role": "manager"}).status_code == 302
    session.expire_all()
    assert _membership(session, "tech_a2", wf).role == "manager"
    m = _membership(session, "tech_a", wf)
    assert post(client, f"/console/orgs/{code}/staff/{m.id}", {"status": "disabled"}).status_code == 302
    assert tech.get("/console/").status_code == 302  # the disabled technician is out


def test_one_cannot_disable_oneself_nor_manage_another_company(client, wf, session):
    sign_in(client, wf.accounts["manager_a"].username)
    mine = _membership(session, "manager_a", wf)
    code = wf.world.companies[0].code
    assert post(client, f"/console/orgs/{code}/staff/{mine.id}", {"status": "disabled"}).status_code == 422
    other = wf.world.companies[1].code
    assert client.get(f"/console/orgs/{other}/staff").status_code == 404
    theirs = _membership(session, "tech_b", wf)
    assert post(client, f"/console/orgs/{other}/staff/{theirs.id}", {"status": "disabled"}).status_code == 404
    sign_in(client, wf.accounts["tech_a"].username)
    assert client.get(f"/console/orgs/{code}/staff").status_code == 403


def test_contact_points_are_set_by_the_manager(client, wf, session):
    code = wf.world.companies[0].code
    sign_in(client, wf.accounts["manager_a"].username)
    m = _membership(session, "tech_a", wf)
    resp = post(client, f"/console/orgs/{code}/staff/{m.id}/contact",
                {"display_name": "张师傅", "wecom_userid": "zhang"})
    assert resp.status_code == 302
    assert "张师傅" in client.get(f"/console/orgs/{code}/staff").get_data(as_text=True)
    bad = post(client, f"/console/orgs/{code}/staff/{m.id}/contact", {"wecom_userid": "@all"})
    assert bad.status_code == 422


def test_a_committee_verifies_a_claim_and_a_reveal_asks_a_reason_and_is_audited(client, wf, session):
    from tests.support.factories import make_resident, make_staff
    from tests.support.workflow import add_residence

    committee = wf.world.committees[0]
    member = make_staff(session, committee, "committee")
    dora = make_resident(session, name="测试多拉", phone="13912340000")
    claim = add_residence(session, dora, wf.world.community, room="501", status="claimed")
    session.commit()
    sign_in(client, member.username)
    page = client.get("/console/residences", follow_redirects=True).get_data(as_text=True)
    assert "139****0000" in page and "13912340000" not in page
    path = f"/console/orgs/{committee.code}/residences/{claim.id}"
    assert post(client, path + "/reveal", {"fields": "phone", "reason": ""}).status_code == 422
    shown = post(client, path + "/reveal", {"fields": "phone", "reason": "核实住户身份"})
    assert shown.status_code == 200 and "13912340000" in shown.get_data(as_text=True)
    entry = session.scalar(sa.select(AuditEntry).where(AuditEntry.subject_person_id == dora.person_id))
    assert entry.reason == "核实住户身份" and entry.fields == ["phone"]
    assert post(client, path + "/review", {"decision": "verify"}).status_code == 302
    session.expire_all()
    assert session.get(Residence, claim.id).status == "verified"
    sign_in(client, wf.accounts["admin"].username)
    audit = client.get(f"/console/admin/audit?subject_person_id={dora.person_id}").get_data(as_text=True)
    assert "核实住户身份" in audit
    assert client.get("/console/admin/audit?since=2026-13-01T00:00").status_code == 422


def _pending(session, clock, text: str):
    from app.moderation.models import ModerationItem

    item = ModerationItem(subject_type="console-test", subject_id="1", kind="text", text=text, state="pending_review",
                          provider="keywords", suggest="review", created_at=clock.now())
    session.add(item)
    session.commit()
    return item


def test_a_moderator_clears_and_rejects_and_others_may_not(client, wf, session, clock):
    first, second = _pending(session, clock, "路灯不亮"), _pending(session, clock, "可疑文字")
    sign_in(client, wf.accounts["manager_a"].username)
    assert client.get("/console/moderation").status_code == 403
    assert post(client, f"/console/moderation/{first.id}/clear").status_code == 404  # not a moderator: hidden
    sign_in(client, wf.accounts["admin"].username)
    page = client.get("/console/moderation").get_data(as_text=True)
    assert "路灯不亮" in page and "可疑文字" in page
    assert post(client, f"/console/moderation/{first.id}/clear").status_code == 302
    assert post(client, f"/console/moderation/{second.id}/reject", {"reason": ""}).status_code == 422
    assert post(client, f"/console/moderation/{second.id}/reject", {"reason": "含不当内容"}).status_code == 302
    assert post(client, f"/console/moderation/{second.id}/clear").status_code == 409
    session.expire_all()
    assert (first.state, second.state) == ("cleared", "rejected")
