"""Test fixtures on real databases.

The suite runs once on a SQLite file and, when ``TEST_DATABASE_URL`` names a PostgreSQL
server and ``TEST_DB=postgresql``, once more on PostgreSQL in a database created for the
run and dropped after it (``WITH (FORCE)``). Under pytest-xdist (``make test`` runs ``-n auto``)
each worker process has its own file or database. The schema is migrated once per run (per
worker) with Alembic; each test runs inside a transaction rolled back at its end (services' commits
become savepoints). Tests that must commit for real (races between processes) use
``committed_db``, which empties the non-reference tables afterwards.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.clock import FrozenClock
from app.config import load_settings
from app.db import Database, create_engine
from tests.support.database import backend, run_migrations
from tests.support.mutation import forget_memos, under_mutmut

# Fixtures shared across the tree (only this root conftest may name plugins). None is autouse:
# a module that wants ``ctx``/``reset_rate_limits`` for every test says so in its ``pytestmark``.
pytest_plugins = [
    "tests.support.dispatch",
    "tests.support.gunicorn",
    "tests.support.identity",
    "tests.support.notify",
    "tests.support.qr",
    "tests.support.workflow",
]

DB_FIXTURES = {"db", "app", "client", "committed_db", "database_url", "migrated_db", "clock", "session"}
REFERENCE_TABLES = {"alembic_version", "auth_changes"}  # auth_changes: its one row is schema, not data


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Under mutmut only (``make mutants``): see tests/support/mutation.py."""
    if under_mutmut():
        forget_memos()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if DB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)


@pytest.fixture(scope="session", autouse=True)
def _own_ratelimit_keys() -> Iterator[None]:
    """Rate-limit counters in Redis (``REDIS_URL``) under a key prefix of this process's own.

    Every xdist worker (and every other run on the same Redis) would otherwise count under the
    same keys (``ip:127.0.0.1``, account ids that each worker's database hands out again) and
    ``auth.ratelimit.reset`` would wipe the others' counters mid-test. Only the prefix differs:
    keys, counts and resets within this process are as before. Without Redis nothing changes.
    The keys left at the end are deleted (each Redis database used once).
    """
    import auth.ratelimit

    prefix = f"LIMITS-test-{os.environ.get('PYTEST_XDIST_WORKER', 'w')}-{uuid.uuid4().hex[:8]}"
    original = auth.ratelimit.storage_from_string
    used: dict[str, object] = {}

    def storage_from_string(uri: str, **options):
        if not uri.startswith("redis"):
            return original(uri, **options)
        options.setdefault("key_prefix", prefix)
        storage = original(uri, **options)
        used.setdefault(uri, storage)
        return storage

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(auth.ratelimit, "storage_from_string", storage_from_string)
        yield
    for storage in used.values():
        try:
            storage.reset()  # deletes this prefix's keys only
        except Exception:  # noqa: S112 (a Redis that is down has nothing of ours to delete)
            continue


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if backend() == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    server = os.environ.get("TEST_DATABASE_URL")
    if not server or not server.startswith("postgres"):
        pytest.exit("TEST_DB=postgresql needs TEST_DATABASE_URL=postgresql://...", returncode=2)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "w")
    name = f"jinshan_test_{worker}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(create_engine(server).url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def migrated_db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    if os.environ.get("TEST_SCHEMA") == "metadata":  # only while drafting a migration
        from app.models import metadata

        metadata.create_all(database.engine)
    else:
        run_migrations(database_url)
    seed_reference_data(database)
    yield database
    database.dispose()


def seed_reference_data(database: Database) -> None:
    """Reference data (organisations and places) is loaded once and committed."""
    try:
        from app.places.seed import load_reference
    except ModuleNotFoundError:
        return
    load_reference(database)
    REFERENCE_TABLES.update(reference_table_names())


def reference_table_names() -> set[str]:
    try:
        from app.places.seed import REFERENCE_TABLES as names
    except ModuleNotFoundError:
        return set()
    return set(names)


@pytest.fixture(scope="session")
def settings(database_url: str):
    env = {
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "INFO",
        "ENABLE_DEV_ROUTES": "1",
        "PASSWORD_HASH_PROFILE": "fast",
        "RATELIMIT_ENABLED": "1",
        "UPLOAD_DIR": str(Path(os.environ.get("TMPDIR", "/tmp")) / f"jinshan-uploads-{uuid.uuid4().hex[:6]}"),
    }
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    return load_settings(env)


@pytest.fixture(scope="session")
def _clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture(scope="session")
def _app(settings, migrated_db: Database, _clock: FrozenClock):
    from app import create_app
    from tests.engines.approval.scenario import SCENARIO as APPROVAL_TEST_SCENARIO
    from tests.engines.booking.scenario import SCENARIO as BOOKING_TEST_SCENARIO
    from tests.engines.dispatch.scenario import SCENARIO as DISPATCH_TEST_SCENARIO
    from tests.engines.listing.scenario import SCENARIO as LISTING_TEST_SCENARIO
    from tests.engines.telemetry.scenario import SCENARIO as TELEMETRY_TEST_SCENARIO
    from tests.engines.workflow.scenario import SCENARIO as WORKFLOW_TEST_SCENARIO

    return create_app(settings, database=migrated_db, clock=_clock,
                      extra_scenarios=(WORKFLOW_TEST_SCENARIO, BOOKING_TEST_SCENARIO, DISPATCH_TEST_SCENARIO,
                                       LISTING_TEST_SCENARIO, APPROVAL_TEST_SCENARIO, TELEMETRY_TEST_SCENARIO))


@pytest.fixture
def clock(_clock: FrozenClock) -> FrozenClock:
    _clock.set(FrozenClock().now())
    return _clock


@pytest.fixture
def db(migrated_db: Database) -> Iterator[Database]:
    """The database, with everything the test does rolled back at its end."""
    conn = migrated_db.engine.connect()
    outer = conn.begin()
    migrated_db.bind_to(conn)
    try:
        yield migrated_db
    finally:
        migrated_db.bind_to(None)
        if outer.is_active:
            outer.rollback()
        conn.close()


@pytest.fixture
def session(db: Database):
    s = db.new_session()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def app(_app, db: Database, clock: FrozenClock):
    from auth.ratelimit import reset

    reset(_app)  # limits count real time: start every test with fresh counters
    # per-process memos keyed by row ids: each test rolls its rows back, so the next test's
    # device 1 is another device (its first request must record last_seen_at)
    _app.extensions.pop("devices_touched", None)
    return _app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def committed_db(migrated_db: Database) -> Iterator[Database]:
    """The database with real commits; non-reference tables are emptied afterwards."""
    yield migrated_db
    from app.models import metadata

    with migrated_db.transaction() as s:
        if migrated_db.dialect == "postgresql":  # user triggers off: the ledger's entries are append-only
            s.execute(sa.text("SET LOCAL session_replication_role = replica"))
        for table in reversed(metadata.sorted_tables):
            if table.name not in REFERENCE_TABLES:
                s.execute(table.delete())
