"""A district administrator sets a new version of a workflow scenario's escalation chain
(``app.chains``, ``/api/v1/admin/escalation-chains``): tickets filed after it follow it (who is
told, when, on which channel), tickets filed before keep the version they started with; bad
chains are refused with a code and the field at fault; nobody else may read or change them."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.chains import EscalationChain
from app.notify.models import OutboxMessage
from tests.engines.workflow.scenario import SLUG
from tests.support.workflow import act, events, report, run_worker, ticket_row, timers_of

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")

CHAINS = "/api/v1/admin/escalation-chains"
BUREAU_FIRST = [
    {"name": "bureau", "after_seconds": 600, "since": "start",
     "recipients": [{"of": "owner_supervisor", "roles": ["supervisor"]}], "channels": ["sms"], "urgent": True},
    {"name": "again", "after_seconds": 1800, "recipients": [{"of": "owner", "roles": ["manager"]},
                                                            {"of": "owner_supervisor", "roles": ["supervisor"]}],
     "repeat_seconds": 3600},
]


def set_chain(client, wf, steps, *, who="admin", reason="区房管局要求先通知主管部门", expect=201):
    resp = client.post(f"{CHAINS}/versions", json={"chain": SLUG, "steps": steps, "reason": reason},
                       headers=wf.token(who))
    assert resp.status_code == expect, resp.get_json()
    return resp.get_json()


def told(session, tid: int, level: int) -> set[tuple[str, str, str]]:
    session.expire_all()
    return {(m.recipient_kind, m.recipient_id, m.channel) for m in session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.event_key == f"wf:{tid}:esc:0:{level}"))}


def levels(session, tid: int) -> list[int]:
    return [e.data["level"] for e in events(session, tid, "escalate")]


def test_a_new_version_changes_who_is_told_and_when_for_tickets_filed_after_it(client, wf, clock, db, session):
    before = report(client, wf)["id"]
    version = set_chain(client, wf, BUREAU_FIRST)
    assert version["version"] == 1 and version["created_by_account_id"] == wf.id("admin")
    assert version["explanation"][0].startswith("第 1 级（bureau）：升级开始后 10 分钟通知责任单位的主管部门的")
    after = report(client, wf)["id"]
    assert (ticket_row(session, before).escalation_version, ticket_row(session, after).escalation_version) == (0, 1)
    # The old ticket's timers: the declared chain (at the target, then one target later); the new one's: the version.
    response = ticket_row(session, after).response_due_at
    assert timers_of(session, after)[("workflow.response", 1)][1] == response + timedelta(minutes=10)
    assert ("workflow.response", 3) not in timers_of(session, after)

    clock.advance(minutes=30)  # the response target: the old ticket's level 1, nothing yet for the new one
    run_worker(db, clock)
    assert (levels(session, before), levels(session, after)) == ([1], [])
    assert told(session, before, 1) == {("account", str(wf.id("manager_a")), "log")}

    clock.advance(minutes=10)  # the new ticket's level 1: the bureau's supervisor, by SMS; not the manager
    run_worker(db, clock)
    assert levels(session, after) == [1]
    assert told(session, after, 1) == {("account", str(wf.id("supervisor")), "sms")}

    clock.advance(minutes=30)  # 70 min: the new ticket's level 2 (30 min after level 1), then it repeats
    run_worker(db, clock)
    assert levels(session, after) == [1, 2]
    assert {r for _, r, _ in told(session, after, 2)} == {str(wf.id("manager_a")), str(wf.id("supervisor"))}
    assert timers_of(session, after)[("workflow.response", 3)][0] == "pending"
    assert levels(session, before) == [1, 2]  # the declared chain's level 2 at twice the target (60 min)

    act(client, wf, "manager_a", after, "acknowledge")
    assert timers_of(session, after)[("workflow.response", 3)][0] == "cancelled"


def test_versions_are_listed_newest_first_down_to_the_declared_chain(client, wf, session):
    first = client.get(f"{CHAINS}/versions", query_string={"chain": SLUG}, headers=wf.token("admin")).get_json()
    assert first["current_version"] == 0 and [v["version"] for v in first["items"]] == [0]
    assert first["items"][0]["steps"][0]["recipients"] == [{"of": "owner", "roles": ["manager"]}]
    # The declared chain read back is a valid version: setting it again is accepted as version 1.
    set_chain(client, wf, first["items"][0]["steps"], reason="恢复代码中的默认升级链")
    set_chain(client, wf, BUREAU_FIRST)
    listed = client.get(f"{CHAINS}/versions", query_string={"chain": SLUG}, headers=wf.token("admin")).get_json()
    assert listed["current_version"] == 2 and [v["version"] for v in listed["items"]] == [2, 1, 0]
    assert listed["items"][1]["steps"] == first["items"][0]["steps"]
    assert listed["items"][0]["reason"] == "区房管局要求先通知主管部门"
    every = client.get(CHAINS, headers=wf.token("admin")).get_json()["items"]
    mine = next(c for c in every if c["chain"] == SLUG)
    assert mine["current_version"] == 2 and "此后每 1 小时重复第 2 级，直到有人处理。" in mine["explanation"]


def test_a_preview_explains_without_saving(client, wf, session):
    resp = client.post(f"{CHAINS}/preview", json={"chain": SLUG, "steps": BUREAU_FIRST}, headers=wf.token("admin"))
    assert resp.status_code == 200
    assert resp.get_json()["explanation"][-1] == "此后每 1 小时重复第 2 级，直到有人处理。"
    assert session.scalar(sa.select(sa.func.count()).select_from(EscalationChain)) == 0


def _step(**kw):
    return {"name": "s", "after_seconds": 60, "recipients": [{"of": "owner", "roles": ["manager"]}], **kw}


@pytest.mark.parametrize("steps,code,field", [
    ([], "escalation_chain_invalid", "steps"),
    ([_step()] * 11, "escalation_chain_invalid", "steps"),
    ([_step(after_seconds=-1)], "escalation_chain_invalid", "steps.0.after_seconds"),
    ([_step(after_seconds=8 * 86400)], "escalation_chain_invalid", "steps.0.after_seconds"),
    ([_step(recipients=[{"of": "mayor", "roles": ["manager"]}])], "escalation_chain_invalid", "steps.0.recipients"),
    ([_step(recipients=[{"of": "owner", "roles": ["cook"]}])], "escalation_chain_invalid", "steps.0.recipients"),
    ([_step(recipients=[{"supplied": "contacts"}])], "escalation_chain_invalid", "steps.0.recipients"),
    ([_step(recipients=[])], "escalation_chain_invalid", "steps.0.recipients"),
    ([_step(channels=["pigeon"])], "escalation_chain_invalid", "steps.0.channels"),
    ([_step(instruction="call_119")], "escalation_chain_invalid", "steps.0.instruction"),
    ([_step(since="yesterday")], "escalation_chain_invalid", "steps.0.since"),
    ([_step(repeat_seconds=600), _step()], "escalation_chain_invalid", "steps.0.repeat_seconds"),
    ([_step(), _step(repeat_seconds=10)], "escalation_chain_invalid", "steps.1.repeat_seconds"),
    ([_step(name="")], "escalation_chain_invalid", "steps.0.name"),
    ([_step(after_seconds="60")], "validation_error", "steps.0.after_seconds"),
])
def test_bad_chains_are_refused_with_the_field_at_fault(client, wf, session, steps, code, field):
    resp = client.post(f"{CHAINS}/versions", json={"chain": SLUG, "steps": steps, "reason": "测试"},
                       headers=wf.token("admin"))
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["code"] == code and field in resp.get_json()["errors"], resp.get_json()
    assert session.scalar(sa.select(sa.func.count()).select_from(EscalationChain)) == 0


def test_a_reason_and_a_known_chain_are_required(client, wf):
    resp = client.post(f"{CHAINS}/versions", json={"chain": SLUG, "steps": BUREAU_FIRST, "reason": " "},
                       headers=wf.token("admin"))
    assert (resp.status_code, resp.get_json()["code"], list(resp.get_json()["errors"])) == (
        422, "escalation_chain_invalid", ["reason"])
    resp = client.get(f"{CHAINS}/versions", query_string={"chain": "no-such"}, headers=wf.token("admin"))
    assert (resp.status_code, list(resp.get_json()["errors"])) == (422, ["chain"])


@pytest.mark.parametrize("who", ["manager_a", "supervisor", "bureau_staff", "alice"])
def test_only_district_administrators_read_or_change_chains(client, wf, session, who):
    for method, path, body in (("get", CHAINS, None), ("get", f"{CHAINS}/versions?chain={SLUG}", None),
                               ("post", f"{CHAINS}/versions", {"chain": SLUG, "steps": BUREAU_FIRST, "reason": "试试"}),
                               ("post", f"{CHAINS}/preview", {"chain": SLUG, "steps": BUREAU_FIRST})):
        resp = getattr(client, method)(path, json=body, headers=wf.token(who))
        assert resp.status_code == 403, (method, path, resp.get_json())
    assert client.get(CHAINS).status_code == 401
    assert session.scalar(sa.select(sa.func.count()).select_from(EscalationChain)) == 0
