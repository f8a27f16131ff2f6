"""The console's sign-in session in its cookie: the account, the acting organisation and the
sign-in session (refresh family) a staff login opened, signed by Flask (``SECRET_KEY``).

The cookie grants nothing by itself: each request rebuilds the principal through
``auth.principal.staff_from_session`` (the account active, the family not revoked, the
membership active; the process's authentication cache, told of every change as it commits).
Logout revokes the family, so the same cookie replayed afterwards is refused.
"""
from __future__ import annotations

from flask import request, session
from sqlalchemy.orm import Session

from app.clock import Clock
from app.errors import ApiError
from auth import tokens
from auth.models import Account
from auth.organisations import Organisation
from auth.principal import Principal, staff_from_session

KEY = "staff"


def sign_in(db: Session, *, clock: Clock, account: Account, org: Organisation) -> None:
    """Open a sign-in session (a refresh family, as the API's login does) and hold it in the
    cookie; a fresh CSRF token goes with it (no token of an earlier visitor survives)."""
    pair = tokens.issue_pair(db, clock=clock, account=account, org=org)
    session.clear()
    session.permanent = True
    session[KEY] = {"a": account.id, "o": org.code, "s": pair.family_id}


def principal() -> Principal:
    """The signed-in staff member, or anonymous (a cookie whose session ended is dropped)."""
    data = session.get(KEY)
    anonymous = Principal("anonymous", remote_addr=request.remote_addr)
    if not isinstance(data, dict):
        return anonymous
    try:
        return staff_from_session(int(data["a"]), str(data["o"]), str(data["s"]))
    except (ApiError, KeyError, TypeError, ValueError):
        session.clear()
        return anonymous


def sign_out(db: Session, *, clock: Clock) -> None:
    data = session.get(KEY)
    if isinstance(data, dict) and isinstance(data.get("s"), str):
        tokens.revoke_family(db, data["s"], clock=clock, reason="console_logout")
    session.clear()
