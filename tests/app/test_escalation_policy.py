"""The escalation policy's pure logic (``app.escalation``): when each level is due, repeats,
which levels are due at a moment, and recipients in the order the step lists them."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.calendar import Calendar
from app.escalation import Policy, Roles, Step, Supplied, recipients, two_level
from app.notify.service import Recipient

T0 = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
SOS = Policy((
    Step("operators", (Roles("call_centre", ("operator",)),), after=0, since="start"),
    Step("contacts", (Supplied("contacts", lambda s, subject: []),), after=120, channels=("sms", "wechat")),
    Step("committee", (Roles("committee", ("staff",)),), after=300, since="start"),
    Step("supervisor", (Roles("call_centre", ("supervisor",)),), after=120, instruction="call_120", repeat=300),
))


def test_levels_from_the_start_or_from_the_step_before():
    assert [SOS.due(n, T0) for n in (1, 2, 3, 4)] == [
        T0, T0 + timedelta(seconds=120), T0 + timedelta(seconds=300), T0 + timedelta(seconds=420)]


def test_the_last_step_repeats_at_its_interval():
    assert SOS.step(5) is SOS.steps[-1] and SOS.step(9) is SOS.steps[-1]
    assert SOS.due(5, T0) == T0 + timedelta(seconds=720)
    assert SOS.due(6, T0) == T0 + timedelta(seconds=1020)
    assert SOS.next_after(4, T0 + timedelta(seconds=420)) == (5, T0 + timedelta(seconds=720))
    assert SOS.next_after(3, T0) is None  # listed steps are armed up front, not chained


def test_a_chain_that_does_not_repeat_ends():
    policy = two_level([Roles("owner", ("manager",))], [Roles("owner_supervisor", ("supervisor",))])
    assert policy.step(3) is None and policy.due(3, T0, target=1800) is None
    assert policy.next_after(2, T0) is None
    assert policy.dues(T0, target=1800) == [(1, T0), (2, T0 + timedelta(minutes=30))]
    assert policy.dues(T0, above=1, target=1800) == [(2, T0 + timedelta(minutes=30))]
    with pytest.raises(ValueError, match="target"):
        policy.due(2, T0)


def test_the_target_counts_in_the_calendar_given():
    friday_evening = datetime(2026, 12, 4, 8, 30, tzinfo=UTC)  # 16:30 in Shanghai
    cal = Calendar("business", work_start_minute=9 * 60, work_end_minute=17 * 60)
    policy = two_level([Roles("owner", ("manager",))], [Roles("owner", ("manager",))])
    level1, level2 = (due for _, due in policy.dues(friday_evening, target=3600, add=cal.add))
    assert level1 == friday_evening  # a limit of 0 stays at its anchor, even at a day's edge
    assert level2 == cal.add(friday_evening, 3600) and level2 > friday_evening + timedelta(days=1)


def test_due_levels_at_a_moment():
    assert SOS.due_levels(T0, T0 - timedelta(seconds=1)) == []
    assert SOS.due_levels(T0, T0 + timedelta(seconds=300)) == [1, 2, 3]
    assert SOS.due_levels(T0, T0 + timedelta(seconds=300), done=2) == [3]
    assert SOS.due_levels(T0, T0 + timedelta(hours=1), done=3, limit=3) == [4, 5, 6]


def test_only_the_last_step_repeats_and_limits_are_not_negative():
    with pytest.raises(ValueError, match="only the last"):
        Policy((Step("a", (), after=0, repeat=60), Step("b", (), after=0)))
    with pytest.raises(ValueError, match="0 or more"):
        Policy((Step("a", (), after=-1),))
    with pytest.raises(ValueError, match="at least one"):
        Policy(())


def test_recipients_in_step_order_each_once_and_unknown_organisations_add_none():
    step = Step("x", (Roles("dispatcher", ("supervisor",)), Supplied("contacts", lambda s, subject: []),
                      Roles("owner", ("manager",)), Roles("owner", ("manager", "admin"))), after=0)
    orgs = {"owner": lambda roles: [Recipient.account(len(roles)), Recipient.account(7)]}
    found = recipients(step, orgs, lambda spec: [Recipient("phone", spec.name), Recipient.account(7)])
    assert found == [Recipient("phone", "contacts"), Recipient.account(7), Recipient.account(1),
                     Recipient.account(2)]


def test_a_policy_explained_in_words_names_limits_recipients_channels_and_the_repeat():
    from app.escalation import explain

    policy = Policy((Step("first", (Roles("centre", ("operator", "manager")),), after=0, since="start"),
                     Step("family", (Supplied("contacts", lambda *a: []),), after=120, channels=("sms", "wechat")),
                     Step("boss", (Roles("centre", ("manager",)),), after=None, instruction="call_120", repeat=300)))
    words = explain(policy, orgs={"centre": "呼叫中心"}, supplied={"contacts": "紧急联系人"}, target="响应时限")
    assert words == [
        "第 1 级（first）：升级开始时立即通知呼叫中心的接线员/经理，经各自的默认渠道（紧急）。",
        "第 2 级（family）：第 1 级后 2 分钟通知紧急联系人，经短信、微信（紧急）。",
        "第 3 级（boss）：第 2 级后再过一个响应时限通知呼叫中心的经理，经各自的默认渠道（紧急），"
        "并记录指示：拨打 120。",
        "此后每 5 分钟重复第 3 级，直到有人处理。"]
    assert explain(Policy(policy.steps[:1]), orgs={})[-1] == "第 1 级之后不再升级。"
