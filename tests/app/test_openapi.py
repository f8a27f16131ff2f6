"""The committed spec is what the code generates; the error schema is ours."""
from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli import render_spec
from scenarios.engines.workflow import policies

SPEC_FILE = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


@pytest.fixture
def process_config_kept() -> Iterator[None]:
    """``render_spec()`` builds an app under ``APP_ENV=development``, and building an app configures
    this process too: the SLA terms cache goes on (30 s; the worker's later tests would then file
    tickets under policies of rolled-back transactions: a foreign-key error) and the root log
    level changes. Both are put back."""
    root, alembic = logging.getLogger(), logging.getLogger("alembic")
    levels = root.level, alembic.level
    cache = getattr(policies, "CACHE", None)  # process-wide; once each app has its own, nothing to put back
    kept = (cache.ttl, cache.now) if cache is not None else None
    try:
        yield
    finally:
        if cache is not None:
            cache.ttl, cache.now = kept
            cache.invalidate()
        root.setLevel(levels[0])
        alembic.setLevel(levels[1])


@pytest.mark.usefixtures("process_config_kept")
def test_committed_spec_matches_code():
    generated = json.loads(render_spec())
    committed = json.loads(SPEC_FILE.read_text(encoding="utf-8"))
    assert generated == committed, "run: make openapi (flask --app wsgi openapi write)"


@pytest.mark.usefixtures("process_config_kept")
def test_error_schema_has_string_code_and_field_errors():
    spec = json.loads(render_spec())
    error = spec["components"]["schemas"]["Error"]
    assert error["properties"]["code"]["type"] == "string"
    assert set(error["required"]) == {"code", "message", "request_id"}
    assert "errors" in error["properties"]


def test_spec_served_and_docs_local(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["info"]["version"] == "v1"
    page = client.get("/docs").get_data(as_text=True)
    assert "/docs/assets/swagger-ui-bundle.js" in page and "cdn" not in page.lower()
    assert client.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
