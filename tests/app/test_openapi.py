"""The committed spec is what the code generates; the error schema is ours."""
from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli import render_spec

SPEC_FILE = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


@pytest.fixture
def process_config_kept() -> Iterator[None]:
    """``render_spec()`` builds an app under ``APP_ENV=development`` with ``LOG_LEVEL=WARNING``, and
    building an app sets the process's log levels: they are put back. (The SLA terms cache, which
    used to be the process's too, is each app's own.)"""
    root, alembic = logging.getLogger(), logging.getLogger("alembic")
    levels = root.level, alembic.level
    try:
        yield
    finally:
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
