"""Who is told of an alarm besides staff: the person's emergency contacts, in order.

A contact with an account is told on every channel the step names (WeChat and SMS) and
follows the alarm in their app; a contact without one is an outbox recipient of kind
``sos_contact`` (the SMS channel reads the encrypted phone from the contact's row: no phone
in the outbox). A contact with neither an account nor a phone reaches nobody.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.notify.service import Recipient
from app.sms.channel import phone_recipient
from scenarios.elderly_sos.models import SosAlarm, SosContact

CONTACT_KIND = "sos_contact"


def of_enrolment(session: Session, enrolment_id: int | None) -> list[SosContact]:
    if enrolment_id is None:
        return []
    return list(session.scalars(sa.select(SosContact).where(SosContact.enrolment_id == enrolment_id)
                                .order_by(SosContact.position)))


def recipients(session: Session, alarm: SosAlarm) -> list[Recipient]:
    """The alarm's person's contacts, in order: their account, else their phone."""
    out = []
    for contact in of_enrolment(session, alarm.enrolment_id):
        if contact.account_id is not None:
            out.append(Recipient.account(contact.account_id))
        elif contact.phone:
            out.append(Recipient(CONTACT_KIND, contact.id))
    return out


def followers(session: Session, alarm: SosAlarm) -> list[int]:
    """Accounts that follow the alarm in their app: contacts with accounts and whoever raised it."""
    ids = [c.account_id for c in of_enrolment(session, alarm.enrolment_id) if c.account_id is not None]
    if alarm.raised_by_account_id is not None and alarm.raised_by_account_id not in ids:
        ids.append(alarm.raised_by_account_id)
    return ids


def _phone(session: Any, recipient_id: str) -> str | None:
    contact = session.get(SosContact, int(recipient_id))
    return contact.phone if contact is not None else None


phone_recipient(CONTACT_KIND, _phone)
