"""The outbox channel ``wecom``: 企业微信 application messages (text cards) to staff.

For an outbox row, in order:

- WeCom not configured (``WECOM_CORP_ID``, ``WECOM_AGENT_ID``, ``WECOM_SECRET``,
  ``CONSOLE_BASE_URL``), or configured wrongly: ``failed`` ("WeCom not configured: …");
- an unknown template: ``failed``;
- a row to an organisation (one with nobody in the role): ``skipped`` ("no staff to reach");
- a disabled, deleted or missing account: ``skipped``;
- no ``StaffContact`` or no ``wecom_userid``: ``failed`` ("no WeCom id"); a user id WeCom
  WeCom would take for several users (``@all``, ``a|b``) or that is not one: ``failed``;
- the card is built (``app.wecom.card``) and sent to that one user; the answer decides:

  - errcode 0 and no ``invaliduser``: ``sent``;
  - errcode 0 with ``invaliduser`` (the only user we named: unknown, departed or outside
    the application's range), or 40003, 60111, 81013: ``failed`` ("invalid WeCom user"),
    for good; ``unlicenseduser`` (no 接口许可 for that user): ``failed`` too;
  - 40014, 42001, 41001 (the token): fetched again once and sent again by the client; a
    second rejection is a ``retry``;
  - 45009, 45033 (frequency limits), -1, HTTP 5xx, timeouts, network errors, an open
    circuit: ``retry`` (the outbox backs off);
  - any other errcode: ``retry`` (bounded by the outbox's attempts).

``fallback = "sms"``: when an *urgent* row ends ``failed`` here (no WeCom id, an invalid user,
WeCom not configured, attempts exhausted) the outbox enqueues the same event for the same
recipient on the SMS channel (``app.notify.service``).

Delivery is at least once, as for every channel: a card whose answer was lost is sent again.
One log line per delivery names the outbox row, the account id, the template and the
outcome; never the WeCom user id or anything else about the person.
"""
from __future__ import annotations

import logging
import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import object_session

from app.config import ConfigError
from app.notify.channels import Outcome, register_channel
from app.notify.models import OutboxMessage
from app.notify.templates import current_registry
from app.upstream import errcode
from app.wecom.card import build_card
from app.wecom.client import wecom_api
from app.wecom.errors import WecomUnavailable
from auth.contacts import StaffContact
from auth.models import Account

log = logging.getLogger("app.wecom")

INVALID_USER = frozenset({40003, 60111, 81013})  # invalid userid, userid not found, all recipients invalid
FREQUENCY_LIMITS = frozenset({45009, 45033})
# WeCom's userid: 1–64 letters, digits and "_-@.", starting with a letter or a digit. Anything else
# is refused before WeCom sees it: "@all" would reach the whole application, "a|b" two users.
USERID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


def _listed(value: Any) -> list[str]:
    """WeCom's ``"a|b"`` lists (a JSON list accepted too)."""
    if isinstance(value, list):
        return [str(v) for v in value if v]
    return [v for v in str(value or "").split("|") if v]


def classify(answer: dict[str, Any]) -> Outcome:
    """The outcome of WeCom's answer to a message sent to one user."""
    code = errcode(answer)
    if code == 0:
        if _listed(answer.get("invaliduser")):
            return Outcome("failed", "invalid WeCom user (invaliduser)")
        if _listed(answer.get("unlicenseduser")):
            return Outcome("failed", "WeCom user without a licence (unlicenseduser)")
        return Outcome("sent")
    if code in INVALID_USER:
        return Outcome("failed", f"invalid WeCom user (errcode {code})")
    if code in FREQUENCY_LIMITS:
        return Outcome("retry", f"frequency limit (errcode {code})")
    return Outcome("retry", f"errcode {code}")


class WecomChannel:
    name = "wecom"
    fallback = "sms"

    def deliver(self, message: OutboxMessage) -> Outcome:
        outcome = self._deliver(message)
        log.info("wecom delivery", extra={
            "outbox_id": message.id, "template": message.template, "event_key": message.event_key,
            "recipient": f"{message.recipient_kind}:{message.recipient_id}", "outcome": outcome.state,
            "detail": outcome.detail,
        })
        return outcome

    def _deliver(self, message: OutboxMessage) -> Outcome:
        session = object_session(message)
        assert session is not None
        try:
            api = wecom_api()
        except ConfigError as exc:
            return Outcome("failed", f"WeCom not configured: {exc}")
        if not api.config.configured:
            return Outcome("failed", f"WeCom not configured: {', '.join(api.config.missing)} not set")
        template = current_registry().get(message.template)
        if template is None:
            return Outcome("failed", f"no template {message.template}")
        if message.recipient_kind == "org":
            return Outcome("skipped", "no staff to reach")
        if message.recipient_kind != "account":
            return Outcome("skipped", "WeCom messages go to accounts")
        account = session.get(Account, int(message.recipient_id))
        if account is None or account.status != "active":
            return Outcome("skipped", "account not active")
        userid = session.scalar(sa.select(StaffContact.wecom_userid).where(StaffContact.account_id == account.id))
        userid = (userid or "").strip()
        if not userid:
            return Outcome("failed", "no WeCom id")
        if not USERID.match(userid):
            return Outcome("failed", "invalid WeCom id")
        card = build_card(template.wecom_card(), message.payload or {},
                          console_base_url=api.config.console_base_url)
        if api.breaker.is_open:  # WeCom is down: retry later without asking it
            return Outcome("retry", "circuit open")
        body = {"touser": userid, "msgtype": "textcard", "agentid": api.config.agent_id,
                "textcard": card.textcard()}
        try:
            answer = api.send(body, session=session)
        except WecomUnavailable as exc:
            return Outcome("retry", str(exc))
        return classify(answer)


register_channel(WecomChannel())
