"""Races with real commits on PostgreSQL: first logins with one openid, one refresh token
used twice at once; and on both databases, the refresh token's compare-and-set with the two
uses interleaved by hand (one reads, the other rotates and commits, the first goes on)."""
from __future__ import annotations

import threading
from contextlib import closing

import pytest
import sqlalchemy as sa

from app.errors import ApiError
from auth.models import Account, RefreshToken
from auth.ratelimit import reset
from auth.tokens import find_refresh, rotate


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


def account_ids_drawn(db) -> int:
    """The accounts' id sequence's last value: an insert that lost the race still drew one."""
    with db.transaction(write=False) as s:
        seq = s.scalar(sa.text("SELECT pg_get_serial_sequence('accounts', 'id')"))
        return s.scalar(sa.text(f"SELECT last_value FROM {seq}"))


def test_concurrent_first_logins_make_one_account(real, committed_db):
    """Six first logins at once make one account. Up to five rounds (a fresh openid each) until
    one shows both sides of the race: threads started together do not always overlap."""
    contested = []
    for round_ in range(5):
        openid = f"race-openid-{round_}"
        drawn_before = account_ids_drawn(committed_db)

        def login(openid=openid):
            r = real.test_client().post("/api/v1/auth/dev/login", json={"openid": openid})
            return r.status_code, r.get_json()["resident"]["id"] if r.status_code == 200 else r.get_json()

        results = run_together(6, login)
        assert {status for status, _ in results} == {200}, results
        assert len({person for _, person in results}) == 1
        with committed_db.transaction() as s:
            assert s.scalar(sa.select(sa.func.count()).select_from(Account).where(Account.openid == openid)) == 1
        # Both sides of the race: one insert won, and at least one other tried to insert too
        # (it drew an id) and fell back to the winner's row, rather than only finding it later.
        contested.append(account_ids_drawn(committed_db) - drawn_before >= 2)
        if contested[-1]:
            break
    assert any(contested), "no round had two inserts racing"


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


def test_a_use_that_read_the_token_before_another_rotated_it_is_a_reuse(_app, committed_db, clock):
    """The interleaving the compare-and-set exists for, made deterministic and on SQLite too:
    use B has read the row (not rotated yet) when use A rotates and commits; B must then lose
    (``refresh_token_reused``, the family revoked), although what B read says "not rotated".
    Without the ``rotated_at IS NULL`` condition on the UPDATE, B would get a second pair."""
    reset(_app)
    token = _app.test_client().post("/api/v1/auth/dev/login", json={"openid": "cas-openid"}).get_json()["refresh_token"]
    with _app.app_context(), closing(committed_db.new_session()) as late:
        seen = find_refresh(late, token)  # B's read, kept in its session (expire_on_commit=False)
        late.commit()
        assert seen is not None and seen.rotated_at is None and seen.revoked_at is None
        with committed_db.transaction() as first:  # A rotates and commits in between
            won = rotate(first, clock=clock, token=token)
        assert won.refresh_token != token
        with pytest.raises(ApiError) as lost:
            rotate(late, clock=clock, token=token)
        assert lost.value.code == "refresh_token_reused"
        assert seen.rotated_at is None  # B really decided on the stale row: both sides happened
    with committed_db.transaction() as s:
        rows = s.scalars(sa.select(RefreshToken).join(Account).where(Account.openid == "cas-openid")).all()
        assert len(rows) == 2, "the late use must not have issued a pair of its own"
        assert all(r.revoked_at is not None and r.revoked_reason == "reuse" for r in rows)


def test_a_use_that_read_the_token_before_a_logout_revoked_it_gets_nothing(_app, committed_db, clock):
    """The compare-and-set's other half (``revoked_at IS NULL``): the family was revoked (a
    logout) after this use read its token; the use must not be issued a pair."""
    from auth.tokens import revoke_family

    reset(_app)
    token = _app.test_client().post("/api/v1/auth/dev/login", json={"openid": "cas-logout"}).get_json()["refresh_token"]
    with _app.app_context(), closing(committed_db.new_session()) as late:
        seen = find_refresh(late, token)
        late.commit()
        assert seen is not None and seen.revoked_at is None
        with committed_db.transaction() as other:
            assert revoke_family(other, seen.family_id, clock=clock, reason="logout") == 1
        with pytest.raises(ApiError) as lost:
            rotate(late, clock=clock, token=token)
        assert lost.value.code in {"refresh_token_reused", "refresh_token_invalid"}
    with committed_db.transaction() as s:
        rows = s.scalars(sa.select(RefreshToken).join(Account).where(Account.openid == "cas-logout")).all()
        assert len(rows) == 1 and rows[0].revoked_at is not None and rows[0].rotated_at is None
