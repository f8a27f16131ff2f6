"""The scan hot path on a real database (commits between connections), on SQLite and
PostgreSQL. On PostgreSQL ``POST /api/v1/qr/personal`` and ``POST /api/v1/qr/verify`` run
in autocommit (``app.db.single_statements``): each of their statements stands alone, so
what they write must be committed the moment the answer leaves, and a rejected scan is
kept like an accepted one."""
from __future__ import annotations

import sqlalchemy as sa
from flask import has_request_context
from sqlalchemy import event

from auth.devices import create_device
from auth.models import Account, Person
from auth.organisations import Organisation
from qr.keys import init_keys
from qr.models import QrScan, QrSubject, QrUsedJti
from tests.support.factories import basic, bearer, token_for
from tests.support.qr import make_keyring


def resident_with_keys(app, db, clock, settings, openid: str) -> str:
    """A signing key installed as the app's (the caller pops it) and a resident's token, committed."""
    keyring = make_keyring(settings, db, clock)
    with db.transaction() as s:
        init_keys(s, kek=keyring._kek, clock=clock)
        person = Person(real_name_level="none")
        s.add(person)
        s.flush()
        account = Account(kind="dev", openid=openid, person_id=person.id, status="active")
        s.add(account)
        s.flush()
        with app.app_context():
            token = token_for(s, clock, account)
    keyring.reload()
    app.extensions["qr_keyring"] = keyring
    return token


def test_personal_code_and_scans_are_committed_as_they_answer(_app, committed_db, clock, settings):
    token = resident_with_keys(_app, committed_db, clock, settings, "committed-qr-1")
    with committed_db.transaction() as s:
        org = s.scalar(sa.select(Organisation).order_by(Organisation.id).limit(1))
        device, secret = create_device(s, org=org, kind="sentinel", name="门口哨兵")
        device_headers = basic(device.uid, secret)
    levels: list[str | None] = []

    def seen(conn, *_args):
        if has_request_context():  # the requests' statements, not this test's own reads
            levels.append(conn.get_execution_options().get("isolation_level"))

    engine = committed_db.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        client = _app.test_client()
        issued = client.post("/api/v1/qr/personal", headers=bearer(token))
        assert issued.status_code == 200, issued.get_json()
        code = issued.get_json()["token"]
        with committed_db.transaction(write=False) as s:  # another connection sees it at once
            assert s.scalar(sa.select(sa.func.count()).select_from(QrSubject)) == 1
        first = client.post("/api/v1/qr/verify", json={"token": code}, headers=device_headers)
        again = client.post("/api/v1/qr/verify", json={"token": code}, headers=device_headers)
        broken = client.post("/api/v1/qr/verify", json={"token": code[:-3]}, headers=device_headers)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
        _app.extensions.pop("qr_keyring", None)
    assert first.status_code == 200 and first.get_json()["holder"]["real_name_level"] == "none"
    assert again.status_code == 409 and again.get_json()["code"] == "qr_replayed"
    assert broken.status_code == 422 and broken.get_json()["code"] in {"qr_invalid_signature", "qr_malformed"}
    with committed_db.transaction(write=False) as s:
        results = sorted(s.scalars(sa.select(QrScan.result)))
        assert results == sorted(["accepted", "qr_replayed", broken.get_json()["code"]])
        assert s.scalar(sa.select(sa.func.count()).select_from(QrUsedJti)) == 1
    if committed_db.dialect == "postgresql":
        assert levels and set(levels) == {"AUTOCOMMIT"}, levels
    else:
        assert "AUTOCOMMIT" not in levels


def test_reads_run_in_autocommit_and_get_views_that_write_keep_a_transaction(_app, committed_db, clock, settings):
    """On PostgreSQL a read request needs no BEGIN/ROLLBACK (each statement sees a fresh
    snapshot under READ COMMITTED anyway); a GET that writes (``@writes``: drawing a fresh
    personal code) keeps its transaction, and what it wrote is committed."""
    token = resident_with_keys(_app, committed_db, clock, settings, "committed-qr-2")
    levels: dict[str, list[str | None]] = {}

    def seen(conn, *_args):
        if has_request_context():
            from flask import request

            levels.setdefault(request.path, []).append(conn.get_execution_options().get("isolation_level"))

    event.listen(committed_db.engine, "before_cursor_execute", seen)
    try:
        client = _app.test_client()
        assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
        image = client.get("/api/v1/qr/personal/image?format=svg", headers=bearer(token))
        assert image.status_code == 200
    finally:
        event.remove(committed_db.engine, "before_cursor_execute", seen)
        _app.extensions.pop("qr_keyring", None)
    with committed_db.transaction(write=False) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(QrSubject)) == 1
    read, drawn = set(levels["/api/v1/me"]), set(levels["/api/v1/qr/personal/image"])
    if committed_db.dialect == "postgresql":
        assert read == {"AUTOCOMMIT"} and "AUTOCOMMIT" not in drawn, levels
    else:
        assert "AUTOCOMMIT" not in read | drawn, levels
