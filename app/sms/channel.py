"""The outbox channel ``sms``: the template's SMS version to the recipient's phone.

Used for staff when urgent and WeCom fails or is not set, for residents without a WeChat
grant when urgent (both name ``sms`` as their fallback), and for verification codes. The
number is, for a staff account, its verified work mobile (``auth.contacts.StaffContact``; the
code that verifies a new mobile goes to it unverified), for a resident the person's phone;
decrypted here and passed only to the provider: never logged, never in an outbox error. No
phone → ``skipped``. Delivery is at least once, like every channel: the provider gets
``reference`` (``outbox-<id>``) to drop a repeat after a lost answer.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import object_session

from app.notify.channels import Outcome, register_channel
from app.notify.models import OutboxMessage
from app.notify.templates import current_registry
from app.sms.models import SmsMessage
from app.sms.providers import provider_for
from app.wechat.template_data import clean_text, cut
from auth.contacts import StaffContact
from auth.models import Account, Person
from auth.pii import mask_mobile

PARAM_MAX = 35  # the common provider limit for one template parameter

PHONE_RESOLVERS: dict[str, Callable[[Any, str], str | None]] = {}
"""Recipient kinds besides ``account`` that have a phone, each with ``(session, recipient_id) ->
phone``: a scenario's people without accounts (elderly-sos's emergency contacts,
``sos_contact``). The outbox row names the kind and id only; the phone is read here."""


def phone_recipient(kind: str, resolve: Callable[[Any, str], str | None]) -> None:
    """Register ``resolve`` for outbox recipients of ``kind`` (once per kind)."""
    existing = PHONE_RESOLVERS.get(kind)
    if existing is not None and existing is not resolve:
        raise ValueError(f"recipient kind {kind!r} already has a phone resolver")
    PHONE_RESOLVERS[kind] = resolve


class SmsChannel:
    name = "sms"

    def deliver(self, message: OutboxMessage) -> Outcome:
        session = object_session(message)
        assert session is not None
        template = current_registry().get(message.template)
        if template is None or template.sms is None:
            return Outcome("failed", f"no SMS template for {message.template}")
        if message.recipient_kind != "account":
            resolve = PHONE_RESOLVERS.get(message.recipient_kind)
            if resolve is None:
                return Outcome("skipped", "SMS goes to accounts")
            phone = resolve(session, message.recipient_id)
            if not phone:
                return Outcome("skipped", "no phone")
        else:
            account = session.get(Account, int(message.recipient_id))
            phone = _phone(session, account, message.template) if account is not None else None
            if account is None or account.status != "active" or not phone:
                return Outcome("skipped", "no phone")
        payload = message.payload or {}
        params: dict[str, str] = {}
        for name, key in template.sms.params:
            value = payload.get(key)
            if value is None or value == "":
                return Outcome("failed", f"template data: sms {name} ({key}) missing")
            params[name] = cut(clean_text(str(value)), PARAM_MAX)
        app = current_app
        clock = app.extensions["clock"]
        provider = provider_for(app.extensions["settings"], clock)
        reference = f"outbox-{message.id}"
        result = provider.send(to=phone, template=template.sms.template, params=params, reference=reference)
        if result.state != "sent":
            return Outcome(result.state, result.detail)
        session.add(SmsMessage(provider=provider.name, outbox_id=message.id, to=phone,
                               to_masked=mask_mobile(phone) or "", template=template.sms.template, params=params,
                               provider_ref=result.ref, created_at=clock.now()))
        return Outcome("sent")


UNVERIFIED_OK = frozenset({"staff_mobile_code"})
"""Templates sent to a staff mobile before it is verified (the code that verifies it)."""


def _phone(session: Any, account: Account, template: str) -> str | None:
    if account.kind == "staff":
        contact = session.scalar(sa.select(StaffContact).where(StaffContact.account_id == account.id))
        if contact is None or not contact.mobile:
            return None
        return contact.mobile if contact.mobile_verified_at is not None or template in UNVERIFIED_OK else None
    person = session.get(Person, account.person_id) if account.person_id else None
    return person.phone if person is not None and not person.is_anonymised else None


register_channel(SmsChannel())
