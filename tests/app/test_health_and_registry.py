"""Health, readiness, the scenario registry and its agreement with the folders."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from app.db import Database
from scenarios.registry import SCENARIOS

ROOT = Path(__file__).resolve().parents[2]


def test_healthz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_at_head(client):
    body = client.get("/readyz").get_json()
    assert body["status"] == "ok" and body["revision"] == body["head"]


def test_readyz_not_at_head_is_503(settings, tmp_path, _clock):
    from app import create_app

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    app = create_app(settings, database=Database(url), clock=_clock)
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503
    assert resp.get_json()["database"] == "not_at_head"


def test_readyz_unreachable_is_503(settings, _clock):
    from app import create_app

    app = create_app(settings, database=Database("postgresql://nobody@127.0.0.1:1/none"), clock=_clock)
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 503 and resp.get_json()["database"] == "unreachable"


def scenario_packages() -> set[str]:
    root = ROOT / "scenarios"
    return {p.name for p in root.iterdir() if (p / "__init__.py").exists() and p.name != "engines"}


def test_registry_matches_folders():
    assert {s.package for s in SCENARIOS} == scenario_packages()
    slugs = [s.slug for s in SCENARIOS]
    assert len(slugs) == len(set(slugs))


def test_each_registered_package_declares_its_scenario():
    import importlib

    for s in SCENARIOS:
        assert importlib.import_module(f"scenarios.{s.package}").SCENARIO is s


def test_scenarios_endpoint_and_cli_agree(client):
    items = client.get("/api/v1/scenarios").get_json()["items"]
    assert items == [s.describe() for s in SCENARIOS]
    out = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "scenarios"], cwd=ROOT,
                         capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin", "DATABASE_URL": "sqlite://", "LOG_LEVEL": "WARNING"})
    printed = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    assert printed == items


def test_scenario_declaration_rejects_unknown_engine():
    import pytest

    from app.scenario import Scenario
    from scenarios.registry import check

    with pytest.raises(ValueError, match="teleport"):
        check([Scenario("x", "x", "x", ("L1",), ("teleport",), ())])


def test_db_is_reachable(session):
    assert session.execute(sa.text("SELECT 1")).scalar() == 1


def test_seed_demo_refused_in_production(tmp_path):
    import base64
    import os

    env = {
        "PATH": "/usr/bin:/bin", "APP_ENV": "production", "ENABLE_DEV_ROUTES": "0",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}", "ALLOW_SQLITE_IN_PRODUCTION": "1",
        "SECRET_KEY": "s" * 40, "LOG_LEVEL": "WARNING",
        "LEDGER_ALLOW_RECORD_PROVIDER": "1",  # else the ledger refuses to start first (no WeChat Pay here)
        "KEY_ENCRYPTION_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "DATA_ENCRYPTION_KEYS": "k1:" + base64.urlsafe_b64encode(os.urandom(32)).decode(),
    }
    out = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "seed", "demo"], cwd=ROOT,
                         capture_output=True, text=True, env=env)
    assert out.returncode != 0 and "seed reference" in out.stderr
