"""The committed spec is what the code generates; the error schema is ours."""
from __future__ import annotations

import json
from pathlib import Path

from app.cli import render_spec

SPEC_FILE = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


def test_committed_spec_matches_code():
    generated = json.loads(render_spec())
    committed = json.loads(SPEC_FILE.read_text(encoding="utf-8"))
    assert generated == committed, "run: make openapi (flask --app wsgi openapi write)"


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
