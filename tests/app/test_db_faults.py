"""A database that cannot answer is a 503 ``database_unavailable`` with ``Retry-After``, never a
500; a read whose connection dies is run again on a fresh connection, a write is not.

The failure is real: the view kills its own PostgreSQL backend (``pg_terminate_backend``) on its
first run, so the statement fails exactly as when PostgreSQL restarts under a request."""
from __future__ import annotations

import dataclasses

import pytest
import sqlalchemy as sa

from app.db import get_session, writes
from app.db_faults import is_unavailable
from tests.support.database import backend

on_postgresql = pytest.mark.skipif(backend() != "postgresql", reason="backends are killed on PostgreSQL")

KILL_SELF = sa.text("SELECT pg_terminate_backend(pg_backend_pid())")


@pytest.fixture
def faulty(settings, committed_db, _clock):
    """An app of its own with routes whose first run loses its connection."""
    from app import create_app

    app = create_app(dataclasses.replace(settings), database=committed_db, clock=_clock)
    runs: dict[str, int] = {"read": 0, "write": 0, "read_writes": 0}

    def die_once(name: str) -> dict[str, int]:
        runs[name] += 1
        session = get_session()
        if runs[name] == 1:
            session.execute(KILL_SELF)
        return {"runs": runs[name], "one": session.execute(sa.text("SELECT 1")).scalar()}

    app.add_url_rule("/test/read", "test_read", lambda: die_once("read"))
    app.add_url_rule("/test/write", "test_write", lambda: die_once("write"), methods=["POST"])
    app.add_url_rule("/test/read-writes", "test_read_writes", writes(lambda: die_once("read_writes")))
    return app, runs


@on_postgresql
def test_a_read_whose_connection_dies_is_run_again_on_a_fresh_one(faulty):
    app, runs = faulty
    resp = app.test_client().get("/test/read")
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == {"runs": 2, "one": 1} and runs["read"] == 2


@on_postgresql
@pytest.mark.parametrize(("method", "path", "name"), [("post", "/test/write", "write"),
                                                       ("get", "/test/read-writes", "read_writes")])
def test_a_write_whose_connection_dies_is_a_503_and_not_run_again(faulty, method, path, name):
    app, runs = faulty
    resp = getattr(app.test_client(), method)(path)
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["code"] == "database_unavailable" and body["request_id"] and body["message"]
    assert resp.headers["Retry-After"] == "2" and runs[name] == 1
    assert app.test_client().get("/healthz").status_code == 200


@on_postgresql
def test_a_read_that_dies_again_is_a_503_after_one_retry(faulty):
    app, _ = faulty
    calls = []

    def always() -> dict:
        calls.append(1)
        get_session().execute(KILL_SELF)
        return {}

    app.add_url_rule("/test/always", "test_always", always)
    resp = app.test_client().get("/test/always")
    assert resp.status_code == 503 and resp.get_json()["code"] == "database_unavailable"
    assert len(calls) == 2  # the first run and one retry, no more


@on_postgresql
def test_a_refused_statement_is_still_a_500(faulty):
    """A bug (a statement PostgreSQL refuses) must not hide behind a 503."""
    app, _ = faulty
    app.add_url_rule("/test/bug", "test_bug", lambda: get_session().execute(sa.text("SELECT * FROM no_such_table")))
    resp = app.test_client().get("/test/bug")
    assert resp.status_code == 500 and resp.get_json()["code"] == "internal_error"


def test_which_errors_mean_unavailable():
    import sqlite3

    locked = sa.exc.OperationalError("x", {}, sqlite3.OperationalError("database is locked"))
    missing = sa.exc.OperationalError("x", {}, sqlite3.OperationalError("no such table: t"))
    assert is_unavailable(locked) and not is_unavailable(missing)
    assert is_unavailable(sa.exc.TimeoutError("pool exhausted"))
    assert not is_unavailable(sa.exc.IntegrityError("x", {}, Exception("dup")))
