"""Staff contact points: who may see and set them, and how they are shown.

- The staff member sets their own (``/api/v1/staff/me/contact``); the managers and admins of
  an organisation they belong to set theirs (``/api/v1/orgs/<code>/staff/<id>/contact``).
- A new work mobile is unverified until the code sent to it by SMS comes back; only a
  verified mobile receives notices. Changing it starts over.
- Shown in full to the member and to their organisation's managers and admins; masked
  (``138****0001``) to everyone else, residents included — except the one place the engine
  shows a technician's work phone to the resident of an open ticket assigned to them.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from auth import pii, verification
from auth.contacts import StaffContact
from auth.models import Account

WECOM_USERID_MAX = 64


def _wecom_userid_ok(userid: str) -> bool:
    """WeCom's own rule for a userid: 1–64 of letters, digits and ``._-@``, starting with a
    letter or digit. That also refuses ``@all``, which WeCom reads as "the whole company"."""
    return (len(userid) <= WECOM_USERID_MAX and userid.isascii() and userid[0].isalnum()
            and all(c.isalnum() or c in "._-@" for c in userid))


def contact_of(session: Session, account_id: int) -> StaffContact | None:
    return session.scalar(sa.select(StaffContact).where(StaffContact.account_id == account_id))


def view(contact: StaffContact | None, *, full: bool) -> dict[str, Any]:
    if contact is None:
        return {"display_name": None, "mobile": None, "mobile_verified": False, "wecom_userid": None}
    return {
        "display_name": contact.display_name,
        "mobile": contact.mobile if full else pii.mask_mobile(contact.mobile),
        "mobile_verified": contact.mobile_verified_at is not None,
        "wecom_userid": contact.wecom_userid if full else (pii.mask_name(contact.wecom_userid)
                                                            if contact.wecom_userid else None),
    }


def update(session: Session, *, clock: Clock, account: Account, actor_account_id: int,
           values: dict[str, Any]) -> StaffContact:
    """Set what ``values`` names (``display_name``, ``mobile``, ``wecom_userid``; None clears). A
    new mobile is sent a verification code."""
    if account.kind != "staff":
        raise ApiError("not_found")
    now = clock.now()
    contact = contact_of(session, account.id)
    if contact is None:
        contact = StaffContact(account_id=account.id, updated_at=now)
        session.add(contact)
    if "display_name" in values:
        name = (values["display_name"] or "").strip() or None
        if name is not None and not 1 <= len(name) <= 20:
            raise ApiError("validation_error", errors={"display_name": ["称呼为 1–20 个字，如“张师傅”。"]})
        contact.display_name = name
    if "wecom_userid" in values:
        userid = (values["wecom_userid"] or "").strip() or None
        if userid is not None and not _wecom_userid_ok(userid):
            raise ApiError("validation_error", errors={"wecom_userid": [
                "企业微信账号为 1–64 位字母、数字或 ._-@，以字母或数字开头。"]})
        contact.wecom_userid = userid
    send_code = False
    if "mobile" in values:
        mobile = values["mobile"]
        if mobile:
            problem = pii.mobile_problem(mobile)
            if problem:
                raise ApiError("validation_error", errors={"mobile": [problem]})
            if pii.normalise_mobile(mobile) != contact.mobile:
                contact.set_mobile(mobile)
                send_code = True
        else:
            contact.set_mobile(None)
    contact.updated_at = now
    contact.updated_by_account_id = actor_account_id
    session.flush()
    if send_code:
        verification.issue(session, clock=clock, purpose="staff_mobile", account_id=account.id,
                           target_hash=contact.mobile_hash or "")
    return contact


def resend(session: Session, *, clock: Clock, account_id: int) -> None:
    contact = contact_of(session, account_id)
    if contact is None or not contact.mobile:
        raise ApiError("validation_error", errors={"mobile": ["请先填写工作手机号。"]})
    if contact.mobile_verified_at is not None:
        raise ApiError("mobile_already_verified")
    verification.issue(session, clock=clock, purpose="staff_mobile", account_id=account_id,
                       target_hash=contact.mobile_hash or "")


def verify_mobile(session: Session, *, clock: Clock, account_id: int, code: str) -> StaffContact:
    contact = contact_of(session, account_id)
    if contact is None or not contact.mobile:
        raise ApiError("verification_code_invalid", errors={"code": ["验证码错误或已失效，请重新获取。"]})
    verification.check(session, clock=clock, purpose="staff_mobile", account_id=account_id, code=code,
                       target_hash=contact.mobile_hash)
    contact.mobile_verified_at = clock.now()
    session.flush()
    return contact
