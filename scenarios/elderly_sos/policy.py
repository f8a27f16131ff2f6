"""elderly-sos's limits and its escalation chain, as data (``app.escalation``).

The chain runs when the call centre misses the acknowledgement limit (``ACK_LIMIT`` after the
press; at once when no operator is on duty) and again when the responder misses the arrival
limit (``ARRIVAL_LIMIT`` after the acknowledgement). Step limits count from the step before:

1. at the missed limit: the call centre's other operators and its managers (urgent: WeCom,
   SMS when WeCom cannot reach them);
2. 2 minutes later: the person's emergency contacts, in order, by SMS and WeChat (a contact
   without an account by SMS to the phone the committee recorded);
3. 3 minutes later: the neighbourhood or village committee that enrolled the person;
4. 3 minutes later: the call centre's managers and the supervisors of the organisation that
   supervises it (区民政局), with the recorded instruction to call 120; repeated every 5
   minutes until someone acts.

Organisations a ``Roles`` step may name: ``call_centre``, ``committee``, ``supervisor`` (the
call centre's supervising organisation). ``Supplied("contacts")``: ``contacts.recipients``.

``CHAIN`` is version 0; a district administrator may set a new version (``app.chains``,
``TERMS``), which applies to alarms raised after it. A version keeps a human in the loop
(``human_in_the_loop``): its first step is due within ``ACK_LIMIT`` of the chain's start, its
last step within ``ARRIVAL_LIMIT`` of it, names staff of an organisation (not the contacts
alone) and repeats at least every ``MAX_REPEAT`` until someone acts.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.chains import ChainTerms, OrgTerms
from app.escalation import Policy, Roles, Step, Supplied
from app.scenario import lazy

ACK_LIMIT = timedelta(seconds=60)
ARRIVAL_LIMIT = timedelta(minutes=30)
MERGE_WINDOW = timedelta(minutes=2)
"""Presses of one person or device this close to the alarm's last press join it."""
OFFER_LIFETIME = timedelta(hours=24)
"""An operator's offer stays open until someone acknowledges (or this long)."""
COMMITTEE_ROLES = ("committee", "grid_worker")
"""The committee's staff: told by the chain's committee step."""
RESPONDER_ROLES = (*COMMITTEE_ROLES, "volunteer")
"""Who may take a visit: the committee's staff and its volunteers (``visit.py``)."""

CONTACTS = Supplied("contacts", lazy("scenarios.elderly_sos.contacts:recipients"))

CHAIN = Policy((
    Step("other_operators", (Roles("call_centre", ("operator", "manager")),), after=0, since="start"),
    Step("contacts", (CONTACTS,), after=120,
         channels=("sms", "wechat")),
    Step("committee", (Roles("committee", COMMITTEE_ROLES),), after=180),
    Step("supervisor", (Roles("call_centre", ("manager",)), Roles("supervisor", ("supervisor",))), after=180,
         instruction="call_120", repeat=300),
))

MAX_REPEAT = timedelta(minutes=15)
"""The longest interval a version's repeating last step may wait between two rounds."""


def _span(d: timedelta) -> str:
    seconds = int(d.total_seconds())
    return f"{seconds // 60} 分钟" if seconds >= 60 else f"{seconds} 秒"


def human_in_the_loop(policy: Policy) -> dict[str, list[str]]:
    """Where a version of the chain would leave an old person waiting for nobody (by field)."""
    start, errors = datetime(2026, 1, 1, tzinfo=UTC), {}
    if policy.due(1, start) - start > ACK_LIMIT:
        errors["steps.0.after_seconds"] = [f"第 1 级须在升级开始后 {_span(ACK_LIMIT)}内（应答时限）通知到人。"]
    n, last = len(policy.steps) - 1, policy.steps[-1]
    if policy.due(n + 1, start) - start > ARRIVAL_LIMIT:
        errors[f"steps.{n}.after_seconds"] = [f"最后一级须在升级开始后 {_span(ARRIVAL_LIMIT)}内（到达时限）开始。"]
    if not any(isinstance(spec, Roles) for spec in last.recipients):
        errors[f"steps.{n}.recipients"] = ["最后一级须通知单位的工作人员，不能只通知紧急联系人。"]
    if last.repeat is None or last.repeat > MAX_REPEAT.total_seconds():
        errors[f"steps.{n}.repeat_seconds"] = [f"最后一级须重复，间隔不超过 {_span(MAX_REPEAT)}，直到有人处理。"]
    return errors


CHAIN_ORGS = {"call_centre": OrgTerms("呼叫中心", ("operator", "manager")),
              "committee": OrgTerms("老人所在的居（村）委会", RESPONDER_ROLES),
              "supervisor": OrgTerms("呼叫中心的主管部门（区民政局）", ("supervisor", "staff"))}

TERMS = ChainTerms(
    key="elderly-sos", title_zh="高龄老人应急呼叫", declared=CHAIN, orgs=CHAIN_ORGS,
    supplied={"contacts": ("老人的紧急联系人（按登记顺序）", CONTACTS)}, rule=human_in_the_loop,
    starts=(f"升级链在两种情况下开始：呼叫后 {int(ACK_LIMIT.total_seconds())} 秒内呼叫中心无人应答"
            "（无人值班时立即开始）；"
            f"应答后 {_span(ARRIVAL_LIMIT)}内社区人员未到达。有人应答（或社区人员到达）即停止。各级时限全天候计算。"))
"""The chain's versions (``app.chains``), named by ``SCENARIO.escalation``."""
