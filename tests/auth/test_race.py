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


@pytest.fixture
def signin(real, committed_db):
    """A staff member ``race.staff`` (committed) and sign-in waits of 1 s after two free failures."""
    from tests.support.factories import make_org, make_staff

    extra = real.extensions["settings"].extra
    saved = dict(extra)
    # The real argon2 profile: each check takes tens of milliseconds, so the guesses overlap.
    extra.update(SIGNIN_FREE_FAILURES="2", SIGNIN_DELAY_BASE_SECONDS="1", RATELIMIT_STAFF_LOGIN="1000/minute",
                 PASSWORD_HASH_PROFILE="default")
    with real.app_context(), committed_db.transaction() as s:
        make_staff(s, make_org(s, "property_company"), "manager", username="race.staff")
    yield real
    extra.clear()
    extra.update(saved)


def _staff_login(app, password: str, addr: str):
    r = app.test_client().post("/api/v1/auth/staff/login", json={"username": "race.staff", "password": password},
                               environ_base={"REMOTE_ADDR": addr})
    return r.status_code, r.get_json().get("code")


def test_parallel_guesses_during_a_wait_get_one_check(signin):
    """Six guesses from six addresses arrive together once a wait has run out: one is checked."""
    import time

    for i in range(2):
        _staff_login(signin, "wrong password 1", f"10.70.0.{i}")
    time.sleep(1.05)
    results = run_together(6, lambda: _staff_login(signin, "wrong password 1",
                                                   f"10.71.0.{threading.get_ident() % 250}"))
    assert sorted(results) == [(401, "invalid_credentials")] + [(429, "login_locked")] * 5, results


def test_parallel_first_sign_ins_from_one_address(signin, committed_db):
    """The first successful sign-ins from a new address, together: every one succeeds, one row."""
    from auth.known_addresses import KnownAddress

    results = run_together(4, lambda: _staff_login(signin, "correct horse battery", "10.72.0.1"))
    assert [status for status, _ in results] == [200] * 4, results
    with committed_db.transaction() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(KnownAddress)) == 1
