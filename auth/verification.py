"""Codes sent by SMS: a staff member's new work mobile, a staff password reset.

Six random digits, kept only as a keyed hash (the lookup key of ``auth.pii``), valid for
``CODE_MINUTES``, used once, ``MAX_ATTEMPTS`` wrong tries and it is dead. Issuing a new code of
the same purpose retires the open one. The code travels through the outbox (urgent, SMS) as
every notice does; the row's payload holds it, and it is worthless once used or expired.
"""
from __future__ import annotations

import hmac
import secrets
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from app.notify.service import Recipient, enqueue
from auth import pii
from auth.contacts import VerificationCode

CODE_MINUTES = 10
MAX_ATTEMPTS = 5
TEMPLATES = {"staff_mobile": "staff_mobile_code", "password_reset": "password_reset_code"}


def _code_hash(purpose: str, account_id: int, code: str) -> str:
    return pii.lookup_hash("verification_code", f"{purpose}:{account_id}:{code}")


def issue(session: Session, *, clock: Clock, purpose: str, account_id: int, target_hash: str) -> VerificationCode:
    """A new code for ``account_id`` (the open one of the same purpose retired), sent by SMS."""
    now = clock.now()
    session.execute(sa.update(VerificationCode).where(
        VerificationCode.account_id == account_id, VerificationCode.purpose == purpose,
        VerificationCode.used_at.is_(None)).values(used_at=now))
    code = f"{secrets.randbelow(10**6):06d}"
    row = VerificationCode(purpose=purpose, account_id=account_id, target_hash=target_hash,
                           code_hash=_code_hash(purpose, account_id, code), attempts=0,
                           expires_at=now + timedelta(minutes=CODE_MINUTES), created_at=now)
    session.add(row)
    session.flush()
    enqueue(session, event_key=f"code:{row.id}", template=TEMPLATES[purpose], clock=clock,
            recipients=[Recipient.account(account_id)], payload={"code": code, "minutes": CODE_MINUTES},
            channel="sms", urgent=True)
    return row


def check(session: Session, *, clock: Clock, purpose: str, account_id: int, code: str,
          target_hash: str | None = None) -> VerificationCode:
    """Use the open code of ``purpose``; ``verification_code_invalid`` (422) when there is none,
    it expired, was used, is for another target, or ``code`` is wrong (a wrong try counts)."""
    row = session.scalars(sa.select(VerificationCode).where(
        VerificationCode.account_id == account_id, VerificationCode.purpose == purpose,
        VerificationCode.used_at.is_(None)).order_by(VerificationCode.id.desc()).limit(1)
        .with_for_update()).first()
    now = clock.now()
    invalid = ApiError("verification_code_invalid", errors={"code": ["验证码错误或已失效，请重新获取。"]})
    if row is None or row.expires_at <= now or row.attempts >= MAX_ATTEMPTS:
        raise invalid
    if target_hash is not None and row.target_hash != target_hash:
        raise invalid
    if not (code.isascii() and code.isdigit() and len(code) == 6) or not hmac.compare_digest(
            row.code_hash, _code_hash(purpose, account_id, code)):
        row.attempts += 1
        session.commit()  # the wrong try counts, whatever the caller does next
        raise invalid
    row.used_at = now
    session.flush()
    return row
