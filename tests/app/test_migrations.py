"""One Alembic history that agrees with the models, and that goes down and up again."""
from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from app.db import create_engine
from app.migrations_state import alembic_config
from app.models import metadata
from tests.support.database import backend, run_migrations


def test_history_is_linear_with_dated_files():
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1
    for rev in script.walk_revisions():
        assert os.path.basename(rev.path)[:8].isdigit(), rev.path


def test_models_and_migrations_agree(migrated_db):
    with migrated_db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
        diff = compare_metadata(ctx, metadata)
    assert diff == [], diff


@pytest.fixture
def scratch_url(tmp_path):
    """An empty database of the run's kind."""
    if backend() == "sqlite":
        yield f"sqlite:///{tmp_path / 'scratch.db'}"
        return
    server = os.environ["TEST_DATABASE_URL"]
    name = f"jinshan_scratch_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(create_engine(server).url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def test_downgrade_to_base_and_upgrade_again(scratch_url, database_url):
    run_migrations(scratch_url)
    engine = create_engine(scratch_url, poolclass=sa.pool.NullPool)
    tables_at_head = set(sa.inspect(engine).get_table_names())
    assert "idempotency_keys" in tables_at_head
    run_migrations(scratch_url, "base", down=True)
    assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
    run_migrations(scratch_url)
    assert set(sa.inspect(engine).get_table_names()) == tables_at_head
    engine.dispose()


def test_no_native_enums_and_every_constraint_named(migrated_db):
    insp = sa.inspect(migrated_db.engine)
    for table in metadata.sorted_tables:
        for c in table.constraints:
            assert c.name, f"unnamed constraint on {table.name}"
        for col in table.columns:
            assert not isinstance(col.type, sa.Enum), f"{table.name}.{col.name} is a native enum"
    if migrated_db.dialect == "postgresql":
        with migrated_db.engine.connect() as conn:
            enums = conn.exec_driver_sql("SELECT count(*) FROM pg_type WHERE typtype = 'e'").scalar()
        assert enums == 0
    assert insp.get_table_names()


def test_dispatch_job_points_are_encrypted_by_their_migration_and_restored_by_its_downgrade(scratch_url):
    """7d1e5a0c9b21 encrypts the points of the jobs already stored (an SOS alarm's is a home),
    exactly, and its downgrade puts them back in clear."""
    from app.config import load_settings
    from auth.pii import keyring_from_settings

    run_migrations(scratch_url, "4bccdc1d3424")
    engine = create_engine(scratch_url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO dispatch_jobs (scenario, status, area, origin_label, origin_lat, origin_lon, details, round,"
            " radius_index, offers_made, version, created_at, updated_at) VALUES ('elderly-sos', 'requested', 'a',"
            " '某村', 30.7412345678, 121.3412345678, '{}', 0, 0, 0, 1, :now, :now)"),
            {"now": "2026-12-05 00:00:00+00:00"})
    run_migrations(scratch_url, "7d1e5a0c9b21")
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT origin_point FROM dispatch_jobs")).scalar_one()
    assert "30.74" not in stored and "121.34" not in stored
    ring = keyring_from_settings(load_settings())
    assert ring.decrypt(stored, "dispatch.origin") == "30.7412345678,121.3412345678"
    run_migrations(scratch_url, "4bccdc1d3424", down=True)
    with engine.connect() as conn:
        assert tuple(conn.execute(sa.text("SELECT origin_lat, origin_lon FROM dispatch_jobs")).one()) == (
            30.7412345678, 121.3412345678)
    engine.dispose()
