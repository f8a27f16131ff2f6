"""A staff member who forgot their password gets a code by SMS at their verified work mobile.

Asking always answers the same (202) and does the same work — one timer row, whether or not
the user exists, is disabled or has a verified mobile — so neither the answer nor its time
tells who exists; the worker then looks the user up and sends a code if it may
(``RESET_KIND``). Throttled by address and by user name like sign-in. The code
(``auth.verification``) and a new password set the password, end every session of the
account and clear its sign-in throttling.
"""
from __future__ import annotations

import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from app.timers import Timer, schedule, timer_handler
from auth import signin_throttle, tokens, verification
from auth.contact_points import contact_of
from auth.models import Account
from auth.staff import check_password_strength, hash_password, normalise_username


def _account(session: Session, username: str) -> Account | None:
    try:
        name = normalise_username(username)
    except ApiError:
        return None
    account = session.scalar(sa.select(Account).where(Account.username == name, Account.kind == "staff"))
    return account if account is not None and account.status == "active" else None


RESET_KIND = "auth.password_reset"


def request(session: Session, *, clock: Clock, username: str) -> None:
    """The same for every name: a timer for the worker (``send_code``)."""
    schedule(session, subject_type="password_reset", subject_id=secrets.token_hex(16), kind=RESET_KIND,
             due_at=clock.now(), payload={"username": username[:64]})


@timer_handler(RESET_KIND, max_attempts=3)
def send_code(session: Session, timer: Timer, clock: Clock) -> None:
    """A code when the user exists, is active and has a verified mobile; else nothing."""
    account = _account(session, str((timer.payload or {}).get("username", "")))
    contact = contact_of(session, account.id) if account is not None else None
    if account is None or contact is None or contact.mobile_verified_at is None or not contact.mobile_hash:
        return
    verification.issue(session, clock=clock, purpose="password_reset", account_id=account.id,
                       target_hash=contact.mobile_hash)


def confirm(session: Session, *, clock: Clock, username: str, code: str, new_password: str) -> None:
    account = _account(session, username)
    if account is None:
        raise ApiError("verification_code_invalid", errors={"code": ["验证码错误或已失效，请重新获取。"]})
    check_password_strength(new_password, username=account.username)  # before the code is spent
    verification.check(session, clock=clock, purpose="password_reset", account_id=account.id, code=code)
    account.password_hash = hash_password(new_password)
    signin_throttle.succeeded([signin_throttle.name_subject(account.username or "")])
    tokens.revoke_account(session, account.id, clock=clock, reason="password_reset")
    session.flush()
