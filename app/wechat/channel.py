"""The outbox channel ``wechat``: one-time subscription messages (``message/subscribe/send``).

For an outbox row to an account: the template's WeChat version and data are built first (a
payload that cannot fill it fails for good); then the oldest open grant of (account,
template) is taken — none: ``no_grant`` and nothing goes to WeChat. Nor when the resident's
consent ``wechat_subscription`` is not in effect at delivery (withdrawn at ``DELETE
/api/v1/me/consents``, even after the row was enqueued; accepting a subscription in WeChat's
dialog gives it, ``grants.record_subscriptions``): ``no_grant``, the grants left unspent. (An
account without a person has no consents to withdraw: its grants are all there is.) The answer decides:

- 0: sent, the grant is consumed (by this outbox row);
- 43101 (the user refused, or no quota left): the grant is consumed, ``no_grant``, no retry;
- 40003 (openid), 40037 (template id), 47003 (data), 41030 (page): ``failed`` for good;
- -1, a timeout, a network error, an open circuit, no token: ``retry`` (the outbox backs off);
- any other errcode: ``retry`` (bounded by the outbox's attempts).

``fallback = "sms"``: when an *urgent* row ends ``no_grant`` or ``failed`` the outbox enqueues
the same event for the same recipient on the SMS channel (once: the outbox's unique key).

At least once: a message is sent again when WeChat took it but its answer was lost (a
timeout after WeChat accepted it), or when the worker died after the answer and before its
batch committed. The repeat spends another grant if the resident has one; without one
WeChat is not called (``no_grant``) and the resident has the first copy.
"""
from __future__ import annotations

from flask import current_app
from sqlalchemy.orm import object_session

from app.notify.channels import Outcome, register_channel
from app.notify.models import OutboxMessage
from app.notify.templates import current_registry
from app.privacy import consents
from app.upstream import errcode
from app.wechat import grants
from app.wechat.client import wechat_api
from app.wechat.errors import WechatUnavailable
from app.wechat.template_data import TemplateDataError, build_data, build_page
from auth.models import Account

SEND_PATH = "cgi-bin/message/subscribe/send"
REFUSED = 43101
PERMANENT = {
    40003: "invalid openid",
    40037: "invalid template_id",
    47003: "template data invalid",
    41030: "invalid page",
}


class WechatChannel:
    name = "wechat"
    fallback = "sms"

    def deliver(self, message: OutboxMessage) -> Outcome:
        session = object_session(message)
        assert session is not None
        api = wechat_api()
        if api.breaker.is_open:  # WeChat is down: retry later without any work
            return Outcome("retry", "circuit open")
        template = current_registry().get(message.template)
        if template is None or template.wechat is None:
            return Outcome("failed", f"no WeChat template for {message.template}")
        if message.recipient_kind != "account":
            return Outcome("skipped", "WeChat messages go to accounts")
        account = session.get(Account, int(message.recipient_id))
        if account is None or account.status != "active" or account.kind != "wechat" or not account.openid:
            return Outcome("no_grant", "no WeChat openid")
        payload = message.payload or {}
        try:
            data = build_data(template.wechat, payload)
            page = build_page(template.wechat, payload)
        except TemplateDataError as exc:
            return Outcome("failed", f"template data: {exc}")
        if account.person_id is not None and consents.in_effect(session, account.person_id, grants.CONSENT) is None:
            return Outcome("no_grant", "consent wechat_subscription withdrawn")  # urgent: SMS instead
        grant = grants.take_grant(session, account_id=account.id, template_id=template.wechat.template_id)
        if grant is None:
            return Outcome("no_grant", "no subscription grant")
        body = {"touser": account.openid, "template_id": template.wechat.template_id, "page": page, "data": data,
                "miniprogram_state": api.config.miniprogram_state, "lang": "zh_CN"}
        try:
            answer = api.call(SEND_PATH, body, session=session)
        except WechatUnavailable as exc:
            return Outcome("retry", str(exc))
        code = errcode(answer)
        now = current_app.extensions["clock"].now()
        if code == 0:
            grants.consume(grant, outbox_id=message.id, now=now)
            return Outcome("sent")
        if code == REFUSED:
            grants.consume(grant, outbox_id=message.id, now=now)
            return Outcome("no_grant", "43101 refused by the user or no quota")
        if code in PERMANENT:
            return Outcome("failed", f"{code} {PERMANENT[code]}")
        return Outcome("retry", f"errcode {code}")


register_channel(WechatChannel())
