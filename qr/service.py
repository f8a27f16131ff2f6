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

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.clock import Clock
from app.db import UTCDateTime
from qr import tokens
from qr.config import QrConfig
from qr.keys import Keyring, current_keyring
from qr.models import PERSONAL_PURPOSE, QrPass, QrScan, QrSubject, QrUsedJti
from qr.tokens import Claims, QrError

SCANNER_KINDS = ("device", "staff", "resident", "service")


@dataclass(frozen=True)
class Scanner:
    """Who scans: a device, a staff member, a resident (a landlord scanning a tenant), or
    a service acting on its own. Ids are internal ids, never personal data."""

    kind: str = "service"
    id: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in SCANNER_KINDS:
            raise ValueError(f"unknown scanner kind {self.kind!r}")


@dataclass(frozen=True)
class Holder:
    """An opaque reference to whoever holds a code, e.g. ("person", 42)."""

    type: str
    id: int


@dataclass(frozen=True)
class Verified:
    kind: str  # "personal" or "pass"
    purpose: str
    ref: str | None
    sub: str  # the token's pseudonym: a handle for this scan only
    holder: Holder | None
    pass_id: int | None
    jti: str
    expires_at: datetime
    # A person holder's stored name and real-name level when the verify statement read them
    # along (PostgreSQL personal codes): ``qr.holders`` then needs no query of its own.
    holder_facts: tuple[str | None, str] | None = None


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
    if relaxed and session.get_bind().dialect.name == "postgresql":
        # One round trip: the row, and the transaction's relaxed durability with it.
        session.connection().execute(_SUBJECT_INSERT_RELAXED, {  # Core: the ORM's execute costs more
            "sub": sub, "holder_type": holder_type, "holder_id": holder_id, "expires_at": expires_at})
    else:
        session.add(QrSubject(sub=sub, holder_type=holder_type, holder_id=holder_id, expires_at=expires_at))
    # Ask for a new code while this one still has a quarter of its life (at least 10 s) left.
    refresh_after = expires_at - max(ttl / 4, timedelta(seconds=10))
    return IssuedCode(token=token, sub=sub, jti=jti, expires_at=expires_at, refresh_after=refresh_after)


_ASYNC_COMMIT = sa.text("SET LOCAL synchronous_commit TO OFF")
_RELAX = "set_config('synchronous_commit', 'off', true)"  # the same as SET LOCAL, inside a statement
_SUBJECT_INSERT_RELAXED = sa.text(
    "INSERT INTO qr_subjects (sub, holder_type, holder_id, expires_at) "
    f"SELECT :sub, :holder_type, :holder_id, :expires_at FROM (SELECT {_RELAX}) AS relaxed"
).bindparams(sa.bindparam("sub", type_=sa.String), sa.bindparam("holder_type", type_=sa.String),
             sa.bindparam("holder_id", type_=sa.BigInteger), sa.bindparam("expires_at", type_=UTCDateTime))


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


_CONSUME: dict[str, sa.Insert] = {}
_SCAN = sa.insert(QrScan.__table__)
_SUBJECT = sa.select(QrSubject.holder_type, QrSubject.holder_id).where(QrSubject.sub == sa.bindparam("sub"))


def consume_jti(session: Session, jti: str, *, now: datetime, expires_at: datetime) -> bool:
    """Mark a single-use token used; False when it already was. Atomic on both databases:
    a concurrent consumer waits on the primary key and then finds the row."""
    dialect = session.get_bind().dialect.name
    stmt = _CONSUME.get(dialect)
    if stmt is None:  # built once: verify is on the hot path
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        table = QrUsedJti.__table__
        stmt = _CONSUME[dialect] = insert(table).on_conflict_do_nothing(
            index_elements=["jti"]).returning(table.c.jti)
    row = session.execute(stmt, {"jti": jti, "used_at": now, "expires_at": expires_at}).first()
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
        if kind == "personal" and session.get_bind().dialect.name == "postgresql":
            return _admit_personal_pg(session, claims, now, scanner, relaxed=relaxed)  # records the scan itself
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


# The hot path of every door and gate, in one round trip on PostgreSQL: look up the holder
# (with the two facts a scanner may be shown of a person: name and real-name level, which
# ``qr.holders`` masks), consume the token id (a concurrent consumer waits on the primary
# key, then finds the row) and record the scan with its outcome. Data-modifying CTEs always
# run, and see each other's RETURNING rows; the subject's absence stops the consumption.
_PERSONAL_PG = """
WITH s AS (SELECT q.holder_type, q.holder_id, p.name AS holder_name, p.real_name_level AS holder_level
           FROM qr_subjects q LEFT JOIN persons p ON q.holder_type = 'person' AND p.id = q.holder_id
           WHERE q.sub = :sub),
u AS (INSERT INTO qr_used_jti (jti, used_at, expires_at)
      SELECT :jti, :now, :expires_at WHERE EXISTS (SELECT 1 FROM s)
      ON CONFLICT (jti) DO NOTHING RETURNING jti),
r AS (INSERT INTO qr_scans (at, token_kind, purpose, ref, scanner_kind, scanner_id, result)
      SELECT :now, 'personal', :purpose, :ref, :scanner_kind, :scanner_id,
             CASE WHEN NOT EXISTS (SELECT 1 FROM s) THEN 'qr_revoked'
                  WHEN EXISTS (SELECT 1 FROM u) THEN 'accepted' ELSE 'qr_replayed' END
      RETURNING result)
SELECT r.result, s.holder_type, s.holder_id, s.holder_name, s.holder_level{relax} FROM r LEFT JOIN s ON true
"""
_PERSONAL_PG_PARAMS = (
    sa.bindparam("sub", type_=sa.String), sa.bindparam("jti", type_=sa.String),
    sa.bindparam("now", type_=UTCDateTime), sa.bindparam("expires_at", type_=UTCDateTime),
    sa.bindparam("purpose", type_=sa.String), sa.bindparam("ref", type_=sa.String),
    sa.bindparam("scanner_kind", type_=sa.String), sa.bindparam("scanner_id", type_=sa.BigInteger),
)
_PERSONAL_PG_STMTS: dict[bool, sa.TextClause] = {}


def _personal_pg_statement(relaxed: bool) -> sa.TextClause:
    stmt = _PERSONAL_PG_STMTS.get(relaxed)
    if stmt is None:
        from auth.models import Person  # the name column's type decrypts it

        stmt = _PERSONAL_PG_STMTS[relaxed] = (
            sa.text(_PERSONAL_PG.format(relax=f", {_RELAX} AS relaxed" if relaxed else ""))
            .bindparams(*_PERSONAL_PG_PARAMS).columns(holder_name=Person.name.type))
    return stmt


def _admit_personal_pg(session: Session, claims: Claims, now: datetime, scanner: Scanner, *,
                       relaxed: bool) -> Verified:
    session.flush()  # a subject added in this session must be visible to the statement below
    row = session.connection().execute(_personal_pg_statement(relaxed), {
        "sub": claims.sub, "jti": claims.jti, "now": now, "expires_at": claims.expires_at, "purpose": claims.pur,
        "ref": claims.ref, "scanner_kind": scanner.kind, "scanner_id": scanner.id,
    }).one()
    if row.result != "accepted":
        raise QrError(row.result, claims=claims, recorded=True)
    facts = (row.holder_name, row.holder_level) if row.holder_level is not None else None
    return Verified(kind="personal", purpose=claims.pur, ref=claims.ref, sub=claims.sub,
                    holder=Holder(row.holder_type, row.holder_id), pass_id=None,
                    jti=claims.jti, expires_at=claims.expires_at, holder_facts=facts)


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
