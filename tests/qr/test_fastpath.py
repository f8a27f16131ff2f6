"""The QR layer's fast paths (qr/fastpath.py) write and answer what its plain paths do: the
same codes go through both on PostgreSQL, and the scans, consumed token ids, subjects and
answers are compared (ids, pseudonyms and token ids aside)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.db import FAST_PATHS
from qr.holders import holder_view
from qr.models import QrScan, QrSubject, QrUsedJti
from qr.service import Scanner, issue_personal, verify
from qr.tokens import QrError
from tests.support.database import backend
from tests.support.factories import make_resident

pytestmark = [pytest.mark.skipif(backend() != "postgresql", reason="fast paths are PostgreSQL's"),
              pytest.mark.usefixtures("ctx")]  # an application context for the factories

PERSONAL = {"personal"}


def _scan(session, outcome: str) -> list[tuple]:
    return [(s.at, s.token_kind, s.purpose, s.ref, s.scanner_kind, s.scanner_id, s.result)
            for s in session.scalars(sa.select(QrScan).where(QrScan.result == outcome).order_by(QrScan.id))]


def _answer(session, result) -> tuple:
    view = holder_view(session, result.holder, result.holder_facts)
    return (result.kind, result.purpose, result.ref, result.holder, result.pass_id, result.expires_at, view)


def _run(session, clock, keyring, *, fast: bool, person_id: int) -> dict:
    """Issue (relaxed) and verify one code three ways: accepted, replayed, revoked."""
    session.info[FAST_PATHS] = fast
    scanner = Scanner("device", 7)
    issued = issue_personal(session, holder_type="person", holder_id=person_id, clock=clock, keyring=keyring,
                            relaxed=True)
    subject = session.get(QrSubject, issued.sub)
    out = {"subject": (subject.holder_type, subject.holder_id, subject.expires_at)}
    out["accepted"] = _answer(session, verify(session, issued.token, clock=clock, allowed_purposes=PERSONAL,
                                              scanner=scanner, keyring=keyring, relaxed=True))
    used = session.get(QrUsedJti, issued.jti)
    out["used"] = (used.used_at, used.expires_at)
    for outcome, token in (("qr_replayed", issued.token), ("qr_revoked", None)):
        if token is None:
            other = issue_personal(session, holder_type="person", holder_id=person_id, clock=clock, keyring=keyring)
            session.execute(sa.delete(QrSubject).where(QrSubject.sub == other.sub))
            token = other.token
        with pytest.raises(QrError) as err:
            verify(session, token, clock=clock, allowed_purposes=PERSONAL, scanner=scanner, keyring=keyring)
        out[outcome] = err.value.code
    out["scans"] = {r: _scan(session, r) for r in ("accepted", "qr_replayed", "qr_revoked")}
    session.info.pop(FAST_PATHS)
    session.execute(sa.delete(QrScan))
    return out


def test_issuing_and_verifying_personal_codes_write_and_answer_the_same(app, session, clock, keyring):
    person = make_resident(session, name="王小明").person_id
    session.flush()
    fast = _run(session, clock, keyring, fast=True, person_id=person)
    plain = _run(session, clock, keyring, fast=False, person_id=person)
    assert fast == plain
    assert fast["accepted"][6].masked_name == "王**" and fast["qr_replayed"] == "qr_replayed"
    assert [len(v) for v in fast["scans"].values()] == [1, 1, 1]
