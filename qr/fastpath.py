"""PostgreSQL fast paths of the QR layer, each doing in one statement what its plain path in
``qr.service`` does in several. ``tests/qr/test_fastpath.py`` runs the same inputs through
both on PostgreSQL and compares every row written and every answer.

- ``admit_personal`` (plain path: ``service._admit_personal`` then ``service._record``: the
  holder, the token id consumed, the scan recorded): the hot path of every door and gate.
- ``insert_subject_relaxed`` (plain path: ``relax_durability`` then the ORM insert): issuing a
  personal code in one round trip.

Callers choose with ``app.db.fast_paths_apply(session)``.
"""
from __future__ import annotations

from datetime import datetime
from functools import cache

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.db import UTCDateTime
from qr.scans import Holder, Scanner, Verified
from qr.tokens import Claims, QrError

_RELAX = "set_config('synchronous_commit', 'off', true)"  # the same as SET LOCAL, inside a statement
_SUBJECT_INSERT_RELAXED = sa.text(
    "INSERT INTO qr_subjects (sub, holder_type, holder_id, expires_at) "
    f"SELECT :sub, :holder_type, :holder_id, :expires_at FROM (SELECT {_RELAX}) AS relaxed"
).bindparams(sa.bindparam("sub", type_=sa.String), sa.bindparam("holder_type", type_=sa.String),
             sa.bindparam("holder_id", type_=sa.BigInteger), sa.bindparam("expires_at", type_=UTCDateTime))


def insert_subject_relaxed(session: Session, *, sub: str, holder_type: str, holder_id: int,
                           expires_at: datetime) -> None:
    """The code's pseudonym row, and the transaction's relaxed durability with it."""
    session.connection().execute(_SUBJECT_INSERT_RELAXED, {  # Core: the ORM's execute costs more
        "sub": sub, "holder_type": holder_type, "holder_id": holder_id, "expires_at": expires_at})


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
@cache
def _personal_statement(relaxed: bool) -> sa.TextClause:
    from auth.models import Person  # the name column's type decrypts it

    return (sa.text(_PERSONAL_PG.format(relax=f", {_RELAX} AS relaxed" if relaxed else ""))
            .bindparams(*_PERSONAL_PG_PARAMS).columns(holder_name=Person.name.type))


def admit_personal(session: Session, claims: Claims, now: datetime, scanner: Scanner, *,
                   relaxed: bool) -> Verified:
    """Admit a personal code and record the scan (accepted or not) in one statement; raises
    ``QrError`` (already recorded) when the code is revoked or replayed."""
    session.flush()  # a subject added in this session must be visible to the statement below
    row = session.connection().execute(_personal_statement(relaxed), {
        "sub": claims.sub, "jti": claims.jti, "now": now, "expires_at": claims.expires_at, "purpose": claims.pur,
        "ref": claims.ref, "scanner_kind": scanner.kind, "scanner_id": scanner.id,
    }).one()
    if row.result != "accepted":
        raise QrError(row.result, claims=claims, recorded=True)
    facts = (row.holder_name, row.holder_level) if row.holder_level is not None else None
    return Verified(kind="personal", purpose=claims.pur, ref=claims.ref, sub=claims.sub,
                    holder=Holder(row.holder_type, row.holder_id), pass_id=None,
                    jti=claims.jti, expires_at=claims.expires_at, holder_facts=facts)
