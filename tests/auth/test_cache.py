"""The per-process authentication cache (auth/cache.py): it answers repeated requests without the
database, and a committed change — through the API, the ORM, or a hand-written UPDATE — refuses
the next request, on SQLite (the change counter) and on PostgreSQL (NOTIFY to the listener).

These tests commit for real (a listener sees only committed changes) on an app of their own
with ``AUTH_CACHE=on``; the suite's shared app runs with the cache off.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from app.config import load_settings
from auth import cache as auth_cache
from auth.cache import AccountFacts, AuthCache
from auth.models import Account, Device, Membership
from auth.organisations import Organisation
from tests.support.database import backend
from tests.support.factories import basic, bearer, make_org, make_resident, make_staff, token_for

DEADLINE = 1.0  # seconds: "refused by every web process within 1 s"


# ---------------------------------------------------------------- the maps alone


def test_an_invalidation_drops_what_it_names_and_a_read_that_raced_it_is_not_kept():
    cache = AuthCache(100)
    cache.fresh = True
    g0 = cache.generation
    cache.store(cache.accounts, 7, AccountFacts(7, "dev", "active", 70), g0)
    cache.store(cache.memberships, (7, "org-a"), None, g0)
    cache.store(cache.families, "fam", False, g0)
    assert cache.lookup(cache.accounts, 7).status == "active"
    started = cache.generation  # a request reads the database for account 8 ...
    cache.invalidate("account:8@" + str(time.time()))  # ... while account 8 changes
    cache.store(cache.accounts, 8, AccountFacts(8, "dev", "active", 80), started)
    assert cache.lookup(cache.accounts, 8) is auth_cache.MISS  # the stale read was not kept
    cache.invalidate("account:7")
    assert cache.lookup(cache.accounts, 7) is auth_cache.MISS
    assert cache.lookup(cache.memberships, (7, "org-a")) is auth_cache.MISS  # its memberships too
    assert cache.lookup(cache.families, "fam") is False  # another key untouched
    cache.invalidate("family:fam")
    assert cache.lookup(cache.families, "fam") is auth_cache.MISS
    assert cache.stats.last_lag_seconds is None and cache.stats.invalidations == 3


def test_lookups_from_many_threads_are_all_counted():
    """Request threads (gthread workers) look up at once: no hit or miss is lost."""
    cache = AuthCache(100)
    cache.fresh = True
    cache.store(cache.accounts, 7, AccountFacts(7, "dev", "active", 70), cache.generation)
    start = threading.Barrier(8)

    def look() -> None:
        start.wait()
        for _ in range(2000):
            cache.lookup(cache.accounts, 7)
            cache.lookup(cache.accounts, 8)

    threads = [threading.Thread(target=look) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (cache.stats.hits, cache.stats.misses) == (8 * 2000, 8 * 2000)


def test_a_cache_that_is_not_fresh_is_never_read():
    cache = AuthCache(100)
    cache.fresh = True
    cache.store(cache.accounts, 1, AccountFacts(1, "dev", "active", 1), cache.generation)
    cache.fresh = False
    assert cache.lookup(cache.accounts, 1) is auth_cache.MISS
    cache.store(cache.accounts, 2, AccountFacts(2, "dev", "active", 2), cache.generation)
    cache.fresh = True
    assert cache.lookup(cache.accounts, 2) is auth_cache.MISS  # nothing was stored while stale


def test_an_organisation_change_drops_memberships_and_devices_only():
    cache = AuthCache(100)
    cache.fresh = True
    g = cache.generation
    cache.store(cache.accounts, 1, AccountFacts(1, "staff", "active", None), g)
    cache.store(cache.memberships, (1, "x"), None, g)
    cache.invalidate("org:5@1.0")
    assert cache.lookup(cache.memberships, (1, "x")) is auth_cache.MISS
    assert cache.lookup(cache.accounts, 1) is not auth_cache.MISS
    assert cache.stats.last_lag_seconds is not None


def test_the_setting():
    assert not auth_cache.enabled(load_settings({"APP_ENV": "test"}))
    assert auth_cache.enabled(load_settings({"APP_ENV": "test", "AUTH_CACHE": "on"}))
    assert auth_cache.enabled(load_settings({"APP_ENV": "development"}))
    assert not auth_cache.enabled(load_settings({"APP_ENV": "development", "AUTH_CACHE": "off"}))
    with pytest.raises(ValueError):
        auth_cache.enabled(load_settings({"APP_ENV": "development", "AUTH_CACHE": "maybe"}))


# ---------------------------------------------------------------- an app with the cache on


@dataclass
class World:
    app: object
    client: object
    resident: dict[str, str]
    staff: dict[str, str]
    device: dict[str, str]
    resident_id: int
    staff_id: int
    org_id: int
    device_id: int

    @property
    def cache(self) -> AuthCache:
        return self.app.extensions["auth_cache"].current()


@pytest.fixture
def world(settings, committed_db, _clock) -> Iterator[World]:
    from app import create_app

    cached = dataclasses.replace(settings, extra={**settings.extra, "AUTH_CACHE": "on"})
    app = create_app(cached, database=committed_db, clock=_clock)
    with app.app_context(), committed_db.transaction() as s:
        org = make_org(s, "venue_operator")
        resident = make_resident(s, name="缓存甲")
        staff = make_staff(s, org, "manager")
        from auth.devices import create_device

        device, secret = create_device(s, org=org, kind="sentinel", name="门口哨兵")
        w = World(app, app.test_client(), bearer(token_for(s, _clock, resident)),
                  bearer(token_for(s, _clock, staff, org)), basic(device.uid, secret), resident.id, staff.id, org.id,
                  device.id)
    process = app.extensions["auth_cache"]
    if process.listener is None and backend() == "postgresql":
        process.current()
    if process.listener is not None:
        assert process.listener.wait_fresh(10), "the listener did not start"
    try:
        yield w
    finally:
        process.stop()


def _statuses(w: World) -> tuple[int, int, int]:
    return (w.client.get("/api/v1/me", headers=w.resident).status_code,
            w.client.get("/api/v1/orgs/" + _org_code(w) + "/staff", headers=w.staff).status_code,
            w.client.get("/api/v1/auth/device", headers=w.device).status_code)


_codes: dict[int, str] = {}


def _org_code(w: World) -> str:
    if w.org_id not in _codes:
        with w.app.extensions["db"].transaction(write=False) as s:
            _codes[w.org_id] = s.scalar(sa.select(Organisation.code).where(Organisation.id == w.org_id))
    return _codes[w.org_id]


def _refused_within(w: World, probe, refused: set[int], deadline: float = DEADLINE) -> float:
    """Seconds until ``probe()`` answers a refusal; fails past ``deadline``."""
    started = time.monotonic()
    while True:
        status = probe()
        if status in refused:
            return time.monotonic() - started
        assert time.monotonic() - started < deadline, f"still {status} after {deadline} s"
        time.sleep(0.01)


def _change(w: World, sql: str, **params) -> None:
    with w.app.extensions["db"].transaction() as s:
        s.execute(sa.text(sql), params)


def test_repeated_requests_are_answered_from_the_cache(world):
    assert _statuses(world) == (200, 200, 200)
    hits = world.cache.stats.hits
    for _ in range(5):
        assert _statuses(world) == (200, 200, 200)
    # resident: account + family; staff: account + family + membership; device: one
    assert world.cache.stats.hits - hits >= 5 * 6
    assert world.cache.fresh


def test_a_hand_written_update_of_an_account_refuses_at_once(world):
    assert _statuses(world)[0] == 200 and _statuses(world)[0] == 200  # cached
    _change(world, "UPDATE accounts SET status = 'disabled' WHERE id = :id", id=world.resident_id)
    _refused_within(world, lambda: world.client.get("/api/v1/me", headers=world.resident).status_code, {401})
    _change(world, "UPDATE accounts SET status = 'active' WHERE id = :id", id=world.resident_id)
    _refused_within(world, lambda: world.client.get("/api/v1/me", headers=world.resident).status_code, {200})


def test_logout_ends_the_session_in_the_cache_too(world):
    assert _statuses(world)[0] == 200
    assert world.client.post("/api/v1/auth/logout", json={}, headers=world.resident).status_code == 204
    _refused_within(world, lambda: world.client.get("/api/v1/me", headers=world.resident).status_code, {401})


def test_a_changed_membership_and_a_disabled_organisation_refuse(world):
    probe = lambda: world.client.get("/api/v1/orgs/" + _org_code(world) + "/staff",  # noqa: E731
                                     headers=world.staff).status_code
    assert probe() == 200 and probe() == 200
    _change(world, "UPDATE memberships SET role = 'staff' WHERE account_id = :id", id=world.staff_id)
    _refused_within(world, probe, {403})  # a staff member may not list staff: the new role counts at once
    with world.app.extensions["db"].transaction() as s:  # through the ORM this time
        s.execute(sa.update(Membership).where(Membership.account_id == world.staff_id).values(role="manager"))
    _refused_within(world, probe, {200})
    _change(world, "UPDATE organisations SET active = false WHERE id = :id", id=world.org_id)
    _refused_within(world, probe, {401, 403})


def test_a_disabled_device_is_refused_at_once_and_a_wrong_secret_always(world):
    probe = lambda: world.client.get("/api/v1/auth/device", headers=world.device).status_code  # noqa: E731
    assert probe() == 200 and probe() == 200
    uid = world.device["Authorization"]
    wrong = basic(_uid(world), "not-the-secret")
    assert world.client.get("/api/v1/auth/device", headers=wrong).status_code == 401  # cached facts, secret checked
    with world.app.extensions["db"].transaction() as s:
        s.execute(sa.update(Device).where(Device.id == world.device_id).values(status="disabled"))
    _refused_within(world, probe, {401, 403})
    assert uid


def _uid(w: World) -> str:
    with w.app.extensions["db"].transaction(write=False) as s:
        return s.scalar(sa.select(Device.uid).where(Device.id == w.device_id))


@pytest.mark.skipif(backend() != "postgresql", reason="the listener is PostgreSQL's")
def test_a_killed_listener_connection_never_serves_stale_authority(world):
    probe = lambda: world.client.get("/api/v1/me", headers=world.resident).status_code  # noqa: E731
    assert probe() == 200 and probe() == 200
    listener = world.app.extensions["auth_cache"].listener
    reconnects = listener.reconnects
    with world.app.extensions["db"].engine.connect() as conn:
        killed = conn.execute(sa.text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'jinshan-auth-listener' AND datname = current_database()")).scalar()
    assert killed >= 1
    # Whatever the listener is doing now (noticing, reconnecting), a change is refused at once.
    _change(world, "UPDATE accounts SET status = 'disabled' WHERE id = :id", id=world.resident_id)
    _refused_within(world, probe, {401})
    deadline = time.monotonic() + 10
    while listener.reconnects == reconnects and time.monotonic() < deadline:
        time.sleep(0.05)
    assert listener.reconnects > reconnects and listener.wait_fresh(10)
    assert probe() == 401  # still refused once listening again
    _change(world, "UPDATE accounts SET status = 'active' WHERE id = :id", id=world.resident_id)
    _refused_within(world, probe, {200})
    assert probe() == 200 and world.cache.fresh


@pytest.mark.skipif(backend() != "sqlite", reason="the change counter is SQLite's")
def test_sqlite_triggers_bump_the_counter(world):
    def counter() -> int:
        with world.app.extensions["db"].transaction(write=False) as s:
            return s.scalar(sa.text("SELECT counter FROM auth_changes WHERE id = 1"))

    before = counter()
    with world.app.extensions["db"].transaction() as s:
        s.execute(sa.update(Account).where(Account.id == world.resident_id).values(last_login_at=None))
    assert counter() == before  # a column authentication does not read
    with world.app.extensions["db"].transaction() as s:
        s.execute(sa.update(Account).where(Account.id == world.resident_id).values(status="active"))
    assert counter() == before + 1


def test_the_triggers_exist_at_head(committed_db):
    """A later batch migration on SQLite recreates a table and drops its triggers: this fails then."""
    tables = {"accounts", "memberships", "refresh_tokens", "devices", "organisations"}
    with committed_db.engine.connect() as conn:
        if committed_db.dialect == "postgresql":
            rows = conn.execute(sa.text(
                "SELECT event_object_table FROM information_schema.triggers WHERE trigger_name LIKE 'auth_notify_%'"))
        else:
            rows = conn.execute(sa.text("SELECT tbl_name FROM sqlite_master WHERE type = 'trigger' "
                                        "AND name LIKE 'auth_changes_%'"))
        assert {r[0] for r in rows} == tables
