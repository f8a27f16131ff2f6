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
"""
from __future__ import annotations

from datetime import timedelta

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

CHAIN = Policy((
    Step("other_operators", (Roles("call_centre", ("operator", "manager")),), after=0, since="start"),
    Step("contacts", (Supplied("contacts", lazy("scenarios.elderly_sos.contacts:recipients")),), after=120,
         channels=("sms", "wechat")),
    Step("committee", (Roles("committee", COMMITTEE_ROLES),), after=180),
    Step("supervisor", (Roles("call_centre", ("manager",)), Roles("supervisor", ("supervisor",))), after=180,
         instruction="call_120", repeat=300),
))
