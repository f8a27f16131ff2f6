"""Sign-in throttling (OWASP): growing, capped waits by name and by address instead of a lock-out;
known addresses are not held back by strangers; unknown, known and malformed names answer alike
and cost one argon2 verification each."""
from __future__ import annotations

import time

import argon2
import pytest
import sqlalchemy as sa

from auth.known_addresses import KnownAddress
from tests.support.factories import STAFF_PASSWORD, bearer, make_org, make_staff, token_for

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")

OWNER = {"REMOTE_ADDR": "10.20.0.1"}
ATTACKER = {"REMOTE_ADDR": "10.66.0.1"}


def login(client, username: str, password: str = STAFF_PASSWORD, addr: dict | None = None):
    return client.post("/api/v1/auth/staff/login", json={"username": username, "password": password},
                       environ_base=addr or ATTACKER)


@pytest.fixture
def company(session):
    org = make_org(session, "property_company")
    session.commit()
    return org


@pytest.fixture
def fast(settings_override):
    """Two free failures, then waits of 1 s, 2 s, … capped at 2 s; the per-address request limit
    out of the way (tested in test_ratelimit.py)."""
    settings_override(SIGNIN_FREE_FAILURES="2", SIGNIN_DELAY_BASE_SECONDS="1", SIGNIN_DELAY_MAX_SECONDS="2",
                      RATELIMIT_STAFF_LOGIN="1000/minute")


def test_waits_grow_are_capped_and_never_lock(client, session, company, fast):
    make_staff(session, company, "manager", username="mgr.wait")
    session.commit()
    assert "Retry-After" not in login(client, "mgr.wait", "wrong password 1").headers  # first one free
    r = login(client, "mgr.wait", "wrong password 1")
    assert r.status_code == 401 and r.headers["Retry-After"] == "1"  # the second starts a 1 s wait
    # During the wait even the right password is refused, unchecked.
    r = login(client, "mgr.wait")
    assert r.status_code == 429 and r.get_json()["code"] == "login_locked" and r.headers["Retry-After"] == "1"
    time.sleep(1.05)
    r = login(client, "mgr.wait", "wrong password 1")
    assert r.status_code == 401 and r.headers["Retry-After"] == "2"  # doubled
    time.sleep(2.05)
    r = login(client, "mgr.wait", "wrong password 1")
    assert r.status_code == 401 and r.headers["Retry-After"] == "2"  # 4 s capped at 2 s
    time.sleep(2.05)
    assert login(client, "mgr.wait").status_code == 200  # no lock-out: the owner is in after the cap
    # A success forgets the name's failures: the next failure is free again.
    assert "Retry-After" not in login(client, "mgr.wait", "wrong password 1").headers


def test_one_attempt_per_wait_however_many_arrive(client, session, company, fast):
    make_staff(session, company, "manager", username="mgr.burst")
    session.commit()
    for _ in range(2):
        login(client, "mgr.burst", "wrong password 1")
    time.sleep(1.05)
    codes = [login(client, "mgr.burst", "wrong password 1").status_code for _ in range(5)]
    assert codes == [401, 429, 429, 429, 429]


def test_a_known_address_is_not_held_back_by_strangers(client, session, clock, company, fast):
    make_staff(session, company, "manager", username="mgr.known")
    session.commit()
    assert login(client, "mgr.known", addr=OWNER).status_code == 200  # the owner's address becomes known
    for i in range(4):  # strangers from many addresses keep the name waiting
        login(client, "mgr.known", "wrong password 1", addr={"REMOTE_ADDR": f"10.66.1.{i}"})
    assert login(client, "mgr.known", addr={"REMOTE_ADDR": "10.66.2.1"}).get_json()["code"] == "login_locked"
    assert login(client, "mgr.known", addr={"REMOTE_ADDR": "10.20.0.2"}).status_code == 429  # a new address waits
    assert login(client, "mgr.known", addr=OWNER).status_code == 200  # the known one does not
    # Its own failures do hold it back (a known address is not a free pass to guess).
    login(client, "mgr.known", "wrong password 1", addr=OWNER)
    login(client, "mgr.known", "wrong password 1", addr=OWNER)
    assert login(client, "mgr.known", addr=OWNER).get_json()["code"] == "login_locked"
    # An address is forgotten KNOWN_ADDRESS_DAYS (90) after its last success.
    time.sleep(1.05)
    assert login(client, "mgr.known", addr=OWNER).status_code == 200
    clock.advance(days=91)
    assert login(client, "mgr.known", "wrong password 1", addr={"REMOTE_ADDR": "10.66.3.1"}).status_code == 401
    assert login(client, "mgr.known", addr=OWNER).status_code == 429  # back under the name's wait


def test_known_addresses_are_stored_as_keyed_hashes(client, session, company):
    account = make_staff(session, company, "manager", username="mgr.hash")
    session.commit()
    assert login(client, "mgr.hash", addr=OWNER).status_code == 200
    assert login(client, "mgr.hash", addr=OWNER).status_code == 200  # the same address: one row, updated
    rows = session.scalars(sa.select(KnownAddress).where(KnownAddress.account_id == account.id)).all()
    assert len(rows) == 1 and "10.20" not in rows[0].address_hash and len(rows[0].address_hash) == 32


def test_one_address_spraying_many_names_waits(client, session, company, settings_override):
    settings_override(SIGNIN_ADDRESS_FREE_FAILURES="3", RATELIMIT_STAFF_LOGIN="1000/minute")
    codes = [login(client, f"spray.{i}", "wrong password 1").status_code for i in range(5)]
    assert codes == [401, 401, 401, 429, 429]  # every name fresh: the address's count stops it
    assert login(client, "spray.9", "wrong password 1", addr={"REMOTE_ADDR": "10.1.1.1"}).status_code == 401


def _shape(r) -> tuple:
    ignored = {"x-request-id", "content-length", "date"}
    body = r.get_json()
    return (r.status_code, body["code"], sorted(body), sorted(k.lower() for k in r.headers.keys()
                                                                if k.lower() not in ignored),
            r.headers.get("Retry-After"))


def test_unknown_known_and_malformed_names_answer_alike(client, session, company, fast):
    make_staff(session, company, "manager", username="mgr.same")
    session.commit()
    runs = {}
    for name in ("mgr.same", "nobody.same", "名字 bad name"):
        runs[name] = [_shape(login(client, name, "wrong password 1")) for _ in range(3)]
    known, unknown, malformed = runs.values()
    assert known == unknown == malformed
    assert [s[0] for s in known] == [401, 401, 429]  # the sequence reached a wait for each of them


def test_every_name_costs_one_argon2_verification(client, session, company, monkeypatch):
    make_staff(session, company, "manager", username="mgr.cost")
    session.commit()
    calls: list[str] = []
    real_verify = argon2.PasswordHasher.verify

    def counting(self, hash, password):
        calls.append(hash)
        return real_verify(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", counting)
    for name in ("mgr.cost", "nobody.cost", "名字"):
        before = len(calls)
        assert login(client, name, "wrong password 1").status_code == 401
        assert len(calls) == before + 1, name
        assert calls[-1].startswith("$argon2id$")


def test_change_password_checks_are_throttled_too(client, session, clock, company, fast):
    account = make_staff(session, company, "manager", username="mgr.change")
    session.commit()
    h = bearer(token_for(session, clock, account, company))

    def change(current: str):
        return client.post("/api/v1/auth/staff/password", headers=h, environ_base=ATTACKER,
                           json={"current_password": current, "new_password": "another good one 9"})

    assert change("wrong password 1").get_json()["code"] == "invalid_credentials"
    r = change("wrong password 1")
    assert r.status_code == 401 and r.headers["Retry-After"] == "1"
    assert change(STAFF_PASSWORD).get_json()["code"] == "login_locked"
