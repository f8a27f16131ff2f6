"""Passes: what other scenarios issue (a booking's entry pass, a parking reservation, a
tenant's registration...), bound to a purpose and a reference, single- or multi-use.

The token can be drawn again at any time from the row (``pass_token``): same claims, signed
by the key that signs now, so a resident who lost the image gets an equivalent one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from qr import tokens
from qr.keys import Keyring, current_keyring
from qr.models import PERSONAL_PURPOSE, QrPass
from qr.service import new_handle

PURPOSE_RE = re.compile(r"[a-z][a-z0-9_]{1,39}")
REF_RE = re.compile(r"[A-Za-z0-9:_./-]{1,128}")
HOLDER_TYPE_RE = re.compile(r"[a-z][a-z0-9_]{0,39}")


@dataclass(frozen=True)
class PassStatus:
    state: str  # active | not_yet_valid | expired | revoked | used
    valid_from: datetime
    valid_until: datetime
    revoked_at: datetime | None
    used_at: datetime | None


def _invalid(field: str, msg: str) -> ApiError:
    return ApiError("validation_error", errors={field: [msg]})


def _seconds(when: datetime) -> datetime:
    return when.replace(microsecond=0)


def issue_pass(
    session: Session,
    *,
    purpose: str,
    ref: str,
    holder_type: str | None = None,
    holder_id: int | None = None,
    single_use: bool,
    valid_from: datetime | None = None,
    valid_until: datetime,
    clock: Clock,
    keyring: Keyring | None = None,
) -> tuple[QrPass, str]:
    """Create a pass and its token. ``valid_from`` defaults to now."""
    keyring = keyring or current_keyring()
    now = _seconds(clock.now())
    if not PURPOSE_RE.fullmatch(purpose) or purpose == PERSONAL_PURPOSE:
        raise _invalid("purpose", "用途须为小写字母、数字和下划线，且不能是 personal。")
    if not REF_RE.fullmatch(ref):
        raise _invalid("ref", "引用须为 1–128 个字母、数字或 :_./- 字符。")
    if (holder_type is None) != (holder_id is None) or (
            holder_type is not None and not HOLDER_TYPE_RE.fullmatch(holder_type)):
        raise _invalid("holder", "持有人须同时给出类型和编号。")
    start = _seconds(valid_from) if valid_from is not None else now
    end = _seconds(valid_until)
    if end <= start or end <= now:
        raise _invalid("valid_until", "结束时间须晚于开始时间和当前时间。")
    if end - now > keyring.config.max_token_lifetime:
        raise _invalid("valid_until", "有效期超过了二维码的最长有效期。")
    row = QrPass(
        jti=new_handle(), sub=new_handle(), purpose=purpose, ref=ref, holder_type=holder_type,
        holder_id=holder_id, single_use=single_use, issued_at=now, valid_from=start, valid_until=end,
    )
    session.add(row)
    session.flush()
    return row, pass_token(row, clock=clock, keyring=keyring)


def pass_token(row: QrPass, *, clock: Clock, keyring: Keyring | None = None) -> str:
    """The pass's token, signed now with the current key."""
    keyring = keyring or current_keyring()
    return tokens.issue(keyring, now=clock.now(), iat=row.issued_at, sub=row.sub, jti=row.jti,
                        pur=row.purpose, ref=row.ref, exp=row.valid_until, nbf=row.valid_from)


def get_pass(session: Session, pass_id: int) -> QrPass:
    row = session.get(QrPass, pass_id)
    if row is None:
        raise ApiError("not_found")
    return row


def revoke_pass(session: Session, pass_id: int, *, clock: Clock, reason: str | None = None) -> QrPass:
    """Revoke a pass; its token is refused from now on. Revoking twice keeps the first time."""
    row = get_pass(session, pass_id)
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        row.revoke_reason = (reason or "")[:200] or None
    return row


def revoke_passes_for(session: Session, *, purpose: str, ref: str, clock: Clock, reason: str | None = None) -> int:
    """Revoke every live pass for (purpose, ref), e.g. when a booking is cancelled."""
    return session.execute(sa.update(QrPass).where(
        QrPass.purpose == purpose, QrPass.ref == ref, QrPass.revoked_at.is_(None),
    ).values(revoked_at=clock.now(), revoke_reason=(reason or "")[:200] or None)).rowcount or 0


def pass_status(session: Session, pass_id: int, *, clock: Clock) -> PassStatus:
    row = get_pass(session, pass_id)
    now = clock.now()
    if row.revoked_at is not None:
        state = "revoked"
    elif row.used_at is not None:
        state = "used"
    elif now < row.valid_from:
        state = "not_yet_valid"
    elif now >= row.valid_until:
        state = "expired"
    else:
        state = "active"
    return PassStatus(state=state, valid_from=row.valid_from, valid_until=row.valid_until,
                      revoked_at=row.revoked_at, used_at=row.used_at)
