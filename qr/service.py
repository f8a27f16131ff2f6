"""Issuing personal codes and verifying every kind of code; the functions routes call.

``verify`` is the one way a code is accepted. Scenario routes call it with their own
permission checks and the purposes they admit; ``POST /api/v1/qr/verify`` is the devices'
and staff's route to it. It never commits: the caller does, which makes the consumption of
a single-use code and whatever the caller records (a check-in) one transaction. On a
rejection it has already added the scan's record to the session and raises ``QrError``;
a route that wants rejections kept commits before re-raising::

    try:
        result = verify(session, token, clock=clock, allowed_purposes={"personal"},
                        scanner=Scanner("device", device.id))
    except QrError:
        session.commit()
        raise
    ... record the check-in ...
    session.commit()
"""
from __future__ import annotations

import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.clock import Clock
from app.db import fast_paths_apply
from qr import fastpath, tokens
from qr.config import QrConfig
from qr.keys import Keyring, current_keyring
from qr.models import PERSONAL_PURPOSE, QrPass, QrScan, QrSubject, QrUsedJti
from qr.scans import SCANNER_KINDS, Holder, Scanner, Verified
from qr.tokens import Claims, QrError

__all__ = ["SCANNER_KINDS", "Holder", "IssuedCode", "Scanner", "Verified", "issue_personal", "purge_expired",
           "verify"]

@dataclass(frozen=True)
class IssuedCode:
    token: str
    sub: str
    jti: str
    expires_at: datetime
    refresh_after: datetime


def new_handle() -> str:
    """128 random bits, base64url: per-token pseudonyms and token ids."""
    return secrets.token_urlsafe(16)


def issue_personal(
    session: Session,
    *,
    holder_type: str,
    holder_id: int,
    clock: Clock,
    keyring: Keyring | None = None,
    relaxed: bool = False,
) -> IssuedCode:
    """A personal code: single-use, living ``QR_PERSONAL_TTL_SECONDS``; its ``sub`` is a
    fresh pseudonym that only ``qr_subjects`` maps back to the holder. ``relaxed``: the
    transaction's commit need not wait for the disk (see ``relax_durability``)."""
    keyring = keyring or current_keyring()
    now = clock.now()  # the signing key is chosen at the exact time...
    ttl = keyring.config.personal_ttl
    expires_at = now.replace(microsecond=0) + ttl  # ...the claims are whole seconds
    sub, jti = new_handle(), new_handle()
    token = tokens.issue(keyring, now=now, sub=sub, jti=jti, pur=PERSONAL_PURPOSE, exp=expires_at)
    if relaxed and fast_paths_apply(session):
        fastpath.insert_subject_relaxed(session, sub=sub, holder_type=holder_type, holder_id=holder_id,
                                        expires_at=expires_at)
    else:
        if relaxed:
            relax_durability(session)
        session.add(QrSubject(sub=sub, holder_type=holder_type, holder_id=holder_id, expires_at=expires_at))
    # Ask for a new code while this one still has a quarter of its life (at least 10 s) left.
    refresh_after = expires_at - max(ttl / 4, timedelta(seconds=10))
    return IssuedCode(token=token, sub=sub, jti=jti, expires_at=expires_at, refresh_after=refresh_after)


_ASYNC_COMMIT = sa.text("SET LOCAL synchronous_commit TO OFF")


def relax_durability(session: Session) -> None:
    """On PostgreSQL, let this transaction's commit return before its WAL reaches the disk.

    For the high-rate, short-lived rows of personal codes and scans (a pseudonym living
    60 s, a used token id, a scan record). A durable commit waits for an fsync (about
    2 ms on the benchmark machine, several times the rest of the request); this one does
    not. What it risks, only if the database server itself crashes: the last fraction of
    a second of such commits (3 × ``wal_writer_delay``, 0.6 s by default) is lost. A
    personal code issued then answers ``qr_revoked`` (the mini-program shows a fresh one);
    a code consumed then could be presented once more within its remaining life; a few
    scan records are missing. Nothing is ever half-written, and locking is unchanged, so
    a code is still consumed once under any concurrency. Call it inside the transaction,
    before the writes; SQLite (WAL, synchronous=NORMAL) needs nothing.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_ASYNC_COMMIT)


_SCAN = sa.insert(QrScan.__table__)
_SUBJECT = sa.select(QrSubject.holder_type, QrSubject.holder_id).where(QrSubject.sub == sa.bindparam("sub"))


@cache
def _consume(dialect: str) -> sa.Insert:
    """Built once per dialect: verify is on the hot path."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = QrUsedJti.__table__
    return insert(table).on_conflict_do_nothing(index_elements=["jti"]).returning(table.c.jti)


def consume_jti(session: Session, jti: str, *, now: datetime, expires_at: datetime) -> bool:
    """Mark a single-use token used; False when it already was. Atomic on both databases:
    a concurrent consumer waits on the primary key and then finds the row."""
    row = session.execute(_consume(session.get_bind().dialect.name),
                          {"jti": jti, "used_at": now, "expires_at": expires_at}).first()
    return row is not None


def _record(session: Session, *, now: datetime, kind: str, claims: Claims | None, scanner: Scanner,
            result: str) -> None:
    session.execute(_SCAN, {
        "at": now, "token_kind": kind, "purpose": claims.pur if claims else None,
        "ref": claims.ref if claims else None, "scanner_kind": scanner.kind, "scanner_id": scanner.id,
        "result": result,
    })


def verify(
    session: Session,
    token: object,
    *,
    clock: Clock,
    allowed_purposes: Collection[str],
    scanner: Scanner = Scanner(),
    keyring: Keyring | None = None,
    relaxed: bool = False,
) -> Verified:
    """Accept a code or raise ``QrError``; see the module docstring for the transaction.
    ``relaxed``: the transaction's commit need not wait for the disk (``relax_durability``)."""
    if isinstance(allowed_purposes, str):  # "personal" would admit "person" by substring
        raise TypeError("allowed_purposes must be a collection of purposes, not a string")
    keyring = keyring or current_keyring()
    now = clock.now()
    claims: Claims | None = None
    kind = "unknown"
    try:
        claims = tokens.decode(token, keyring, now=now)
        kind = "personal" if claims.pur == PERSONAL_PURPOSE else "pass"
        if claims.pur not in allowed_purposes:
            raise QrError("qr_wrong_purpose")
        if kind == "personal" and fast_paths_apply(session):
            return fastpath.admit_personal(session, claims, now, scanner, relaxed=relaxed)  # records the scan too
        if relaxed:
            relax_durability(session)
        result = _admit_personal(session, claims, now) if kind == "personal" else _admit_pass(session, claims, now)
    except QrError as err:
        if err.recorded:
            raise
        seen = claims or err.claims
        if seen is not None:
            kind = "personal" if seen.pur == PERSONAL_PURPOSE else "pass"
        if relaxed:
            relax_durability(session)
        _record(session, now=now, kind=kind, claims=seen, scanner=scanner, result=err.code)
        raise
    _record(session, now=now, kind=kind, claims=claims, scanner=scanner, result="accepted")
    return result


def _admit_personal(session: Session, claims: Claims, now: datetime) -> Verified:
    subject = session.execute(_SUBJECT, {"sub": claims.sub}).first()
    if subject is None:
        raise QrError("qr_revoked", claims=claims)
    if not consume_jti(session, claims.jti, now=now, expires_at=claims.expires_at):
        raise QrError("qr_replayed", claims=claims)
    return Verified(kind="personal", purpose=claims.pur, ref=claims.ref, sub=claims.sub,
                    holder=Holder(subject[0], subject[1]), pass_id=None,
                    jti=claims.jti, expires_at=claims.expires_at)


def _admit_pass(session: Session, claims: Claims, now: datetime) -> Verified:
    row = session.scalar(sa.select(QrPass).where(QrPass.jti == claims.jti))
    if (row is None or row.revoked_at is not None or row.purpose != claims.pur
            or row.ref != claims.ref or row.sub != claims.sub):
        raise QrError("qr_revoked", claims=claims)
    if row.single_use:
        if not consume_jti(session, claims.jti, now=now, expires_at=row.valid_until):
            raise QrError("qr_replayed", claims=claims)
        row.used_at = now
    holder = Holder(row.holder_type, row.holder_id) if row.holder_type is not None else None
    return Verified(kind="pass", purpose=claims.pur, ref=claims.ref, sub=claims.sub, holder=holder,
                    pass_id=row.id, jti=claims.jti, expires_at=claims.expires_at)


def purge_expired(session: Session, *, clock: Clock, config: QrConfig | None = None) -> dict[str, int]:
    """Delete what can no longer matter: used jtis and subjects of expired tokens (after the
    leeway), scans past their retention, private halves of keys that stopped signing.
    Meant for a periodic worker job; also ``flask --app wsgi qr purge``."""
    from qr.keys import purge_retired_private_keys

    config = config or current_keyring().config
    now = clock.now()
    cutoff = now - timedelta(seconds=config.leeway_seconds + 60)
    return {
        "used_jti": session.execute(sa.delete(QrUsedJti).where(QrUsedJti.expires_at < cutoff)).rowcount or 0,
        "subjects": session.execute(sa.delete(QrSubject).where(QrSubject.expires_at < cutoff)).rowcount or 0,
        "scans": session.execute(sa.delete(QrScan).where(QrScan.at < now - config.scan_retention)).rowcount or 0,
        "private_keys": purge_retired_private_keys(session, clock=clock),
    }
