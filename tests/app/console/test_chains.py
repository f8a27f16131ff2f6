"""The console's chain editor (``app.console.chains``) on the SOS and workflow chain pages: a
district administrator previews a new version in words, saves exactly what was previewed (a
changed form is previewed again), is refused as the API refuses (the fields at fault, nothing
stored); nobody else opens the pages."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.chains import EscalationChain
from tests.scenarios.elderly_sos.conftest import sos  # noqa: F401  (the elderly-sos world)
from tests.support.console import post, sign_in

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")
SOS_PAGE = "/console/sos/escalation"
CONTACTS_FIRST = {
    "s0_name": "contacts_first", "s0_after": "0", "s0_since": "start", "s0_r": ["supplied:contacts"],
    "s0_ch": ["sms", "wechat"], "s0_urgent": "1",
    "s1_name": "committee", "s1_after": "60", "s1_r": ["committee:committee"], "s1_urgent": "1",
    "s2_name": "supervisor", "s2_after": "120", "s2_r": ["call_centre:manager", "supervisor:supervisor"],
    "s2_instruction": "call_120", "s2_repeat": "240", "s2_urgent": "1",
}
_FINGERPRINT = re.compile(r'name="fingerprint" value="([0-9a-f]+)"')


def _versions(session) -> list[tuple[str, int]]:
    session.expire_all()
    return list(session.execute(sa.select(EscalationChain.chain, EscalationChain.version)).tuples())


def test_an_administrator_previews_then_saves_a_new_sos_chain(app, sos):  # noqa: F811
    client = app.test_client()
    sign_in(client, sos.accounts["admin"].username)
    page = client.get(SOS_PAGE).get_data(as_text=True)
    assert "现行版本（第 0 版，代码中声明）" in page and "此后每 5 分钟重复第 4 级" in page
    assert 'value="other_operators"' in page  # the form starts from the current chain

    preview = post(client, SOS_PAGE, {**CONTACTS_FIRST, "action": "preview"}, page=SOS_PAGE)
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "预览" in text
    assert "第 1 级（contacts_first）：升级开始时立即通知老人的紧急联系人（按登记顺序），经短信、微信（紧急）。" in text
    assert "此后每 4 分钟重复第 3 级，直到有人处理。" in text and _versions(sos.session) == []

    fingerprint = _FINGERPRINT.search(text).group(1)
    changed = post(client, SOS_PAGE, {**CONTACTS_FIRST, "s1_after": "90", "fingerprint": fingerprint,
                                      "reason": "先通知家属", "action": "save"}, page=SOS_PAGE)
    assert "预览后有改动" in changed.get_data(as_text=True) and _versions(sos.session) == []

    saved = post(client, SOS_PAGE, {**CONTACTS_FIRST, "fingerprint": fingerprint, "reason": "先通知家属",
                                    "action": "save"}, page=SOS_PAGE)
    text = saved.get_data(as_text=True)
    assert saved.status_code == 200 and "已保存第 1 版" in text and "现行版本（第 1 版）" in text
    assert _versions(sos.session) == [("elderly-sos", 1)]
    assert sos.alarm(sos.press()["id"]).chain_version == 1  # the next alarm takes it


def test_an_unsafe_or_invalid_chain_is_refused_on_the_page_with_its_fields(app, sos):  # noqa: F811
    client = app.test_client()
    sign_in(client, sos.accounts["admin"].username)
    no_repeat = post(client, SOS_PAGE, {**CONTACTS_FIRST, "s2_repeat": "", "action": "preview"}, page=SOS_PAGE)
    text = no_repeat.get_data(as_text=True)
    assert no_repeat.status_code == 422 and "steps.2.repeat_seconds" in text and "最后一级须重复" in text
    typo = post(client, SOS_PAGE, {**CONTACTS_FIRST, "s1_after": "一分钟", "action": "preview"}, page=SOS_PAGE)
    assert typo.status_code == 422 and "steps.1.after_seconds" in typo.get_data(as_text=True)
    no_reason = post(client, SOS_PAGE, {**CONTACTS_FIRST, "action": "save", "reason": ""}, page=SOS_PAGE)
    assert no_reason.status_code == 200 and "预览后有改动" in no_reason.get_data(as_text=True)  # not previewed
    assert _versions(sos.session) == []


def test_the_workflow_chains_page_opens_each_scenarios_editor(app, client, wf):
    sign_in(client, wf.accounts["admin"].username)
    listing = client.get("/console/escalation-policies").get_data(as_text=True)
    assert "/console/escalation-policies?chain=wf-test" in listing and "（第 0 版）" in listing
    page = "/console/escalation-policies?chain=wf-test"
    form = {"s0_name": "bureau", "s0_after": "600", "s0_since": "start", "s0_r": ["owner_supervisor:supervisor"],
            "s0_urgent": "1", "s1_name": "again", "s1_target": "1", "s1_r": ["owner:manager"], "s1_repeat": "3600"}
    preview = post(client, page, {**form, "action": "preview"}, page=page).get_data(as_text=True)
    assert "第 2 级（again）：第 1 级后再过一个响应时限通知责任单位的" in preview
    fingerprint = _FINGERPRINT.search(preview).group(1)
    saved = post(client, page, {**form, "action": "save", "fingerprint": fingerprint, "reason": "主管部门先知道"},
                 page=page)
    assert "已保存第 1 版" in saved.get_data(as_text=True)
    assert "（第 1 版）" in client.get("/console/escalation-policies").get_data(as_text=True)
    assert client.get("/console/escalation-policies?chain=no-such").status_code == 404


@pytest.mark.parametrize("who", ["manager_a", "supervisor"])
def test_only_district_administrators_open_the_chain_pages(client, wf, who):
    sign_in(client, wf.accounts[who].username)
    assert client.get("/console/escalation-policies?chain=wf-test").status_code == 403
    assert post(client, "/console/escalation-policies?chain=wf-test", {"action": "preview"}).status_code == 403
