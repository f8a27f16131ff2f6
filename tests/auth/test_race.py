"""Races with real commits on PostgreSQL: first logins with one openid, one refresh token
used twice at once."""
from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from auth.models import Account, RefreshToken
from auth.ratelimit import reset


def run_together(n: int, fn) -> list:
    results: list = []
    barrier = threading.Barrier(n)

    def call() -> None:
        barrier.wait()
        results.append(fn())

    threads = [threading.Thread(target=call) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    return results


@pytest.fixture
def real(_app, committed_db):
    if committed_db.dialect != "postgresql":
        pytest.skip("a real race needs PostgreSQL (SQLite serialises writers)")
    reset(_app)
    return _app


def test_concurrent_first_logins_make_one_account(real, committed_db):
    def login():
        r = real.test_client().post("/api/v1/auth/dev/login", json={"openid": "race-openid"})
        return r.status_code, r.get_json()["resident"]["id"] if r.status_code == 200 else r.get_json()

    results = run_together(6, login)
    assert {status for status, _ in results} == {200}, results
    assert len({person for _, person in results}) == 1
    with committed_db.transaction() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Account).where(Account.openid == "race-openid")) == 1


def test_one_refresh_token_used_twice_at_once(real, committed_db):
    body = real.test_client().post("/api/v1/auth/dev/login", json={"openid": "race-refresh"}).get_json()

    def refresh():
        r = real.test_client().post("/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]})
        return r.status_code, r.get_json().get("code")

    results = run_together(4, refresh)
    assert sorted(status for status, _ in results) == [200, 401, 401, 401], results
    assert {code for status, code in results if status == 401} == {"refresh_token_reused"}
    with committed_db.transaction() as s:
        rows = s.scalars(sa.select(RefreshToken).join(Account).where(Account.openid == "race-refresh")).all()
        assert rows and all(r.revoked_at is not None for r in rows)  # the family is revoked
