"""Place codes (场所码): long-lived, multi-use passes for a place, encoded as an https link.

The link is ``QR_PLACE_LINK_PREFIX`` + token. The prefix is registered with WeChat as a
普通链接二维码 rule, so WeChat's own scanner opens the mini-program, which receives the
link and posts it (or the bare token) back to check in. A place has one live code at a
time; ``issue_place_code(..., replace=True)`` revokes the old one (a poster was misused).
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from qr.keys import Keyring, current_keyring
from qr.models import PLACE_CHECKIN_PURPOSE, QrPass
from qr.passes import issue_pass, pass_token
from qr.tokens import QrError


def place_link(token: str, *, keyring: Keyring | None = None) -> str:
    return (keyring or current_keyring()).config.place_link_prefix + token


def token_from_scan(text: str, *, keyring: Keyring | None = None) -> str:
    """The token inside a scanned place link (or a bare token, as the mini-program may send).

    Only our exact prefix is accepted: a link to anywhere else is ``qr_malformed``. The
    token's shape is checked by ``verify``.
    """
    prefix = (keyring or current_keyring()).config.place_link_prefix
    if not isinstance(text, str):
        raise QrError("qr_malformed")
    if text.startswith(prefix):
        return text[len(prefix):]
    if "://" in text or "/" in text:
        raise QrError("qr_malformed", "不是本系统的场所码链接。")
    return text


def active_place_code(session: Session, *, place_ref: str, clock: Clock) -> QrPass | None:
    now = clock.now()
    return session.scalar(sa.select(QrPass).where(
        QrPass.purpose == PLACE_CHECKIN_PURPOSE, QrPass.ref == place_ref, QrPass.revoked_at.is_(None),
        QrPass.valid_until > now,
    ).order_by(QrPass.issued_at.desc(), QrPass.id.desc()).limit(1))


def issue_place_code(
    session: Session,
    *,
    place_ref: str,
    clock: Clock,
    place_id: int | None = None,
    valid_until: datetime | None = None,
    replace: bool = False,
    keyring: Keyring | None = None,
) -> tuple[QrPass, str]:
    """The place's live code and its link: the existing one, or a new one when there is
    none or ``replace`` is set (which revokes the old one)."""
    keyring = keyring or current_keyring()
    current = active_place_code(session, place_ref=place_ref, clock=clock)
    if current is not None and not replace:
        return current, place_code_link(current, clock=clock, keyring=keyring)
    now = clock.now()
    if current is not None:
        session.execute(sa.update(QrPass).where(
            QrPass.purpose == PLACE_CHECKIN_PURPOSE, QrPass.ref == place_ref, QrPass.revoked_at.is_(None),
        ).values(revoked_at=now, revoke_reason="replaced"))
    row, token = issue_pass(
        session, purpose=PLACE_CHECKIN_PURPOSE, ref=place_ref,
        holder_type="place" if place_id is not None else None, holder_id=place_id,
        single_use=False, valid_until=valid_until or now + keyring.config.place_code_ttl,
        clock=clock, keyring=keyring,
    )
    return row, place_link(token, keyring=keyring)


def place_code_link(row: QrPass, *, clock: Clock, keyring: Keyring | None = None) -> str:
    return place_link(pass_token(row, clock=clock, keyring=keyring), keyring=keyring)
