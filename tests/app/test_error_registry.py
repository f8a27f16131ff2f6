"""Every error code the code can raise is registered, with both languages."""
from __future__ import annotations

import re
from pathlib import Path

from app.api import HTTP_STATUS_CODES
from app.errors import ERRORS

ROOT = Path(__file__).resolve().parents[2]
RAISE_RE = re.compile(r"""(?:ApiError|field_error)\(\s*["']([a-z0-9_]+)["']""")
SOURCES = ("app", "auth", "qr", "scenarios")


def raised_codes() -> dict[str, str]:
    found: dict[str, str] = {}
    for top in SOURCES:
        for path in (ROOT / top).rglob("*.py"):
            for code in RAISE_RE.findall(path.read_text(encoding="utf-8")):
                found.setdefault(code, str(path.relative_to(ROOT)))
    return found


def test_every_raised_code_is_registered():
    codes = raised_codes()
    assert codes, "the scan found nothing: the pattern is broken"
    missing = {c: where for c, where in codes.items() if c not in ERRORS}
    assert not missing, missing


def test_http_mapping_codes_are_registered():
    assert set(HTTP_STATUS_CODES.values()) <= set(ERRORS)


def test_entries_are_complete():
    for code, entry in ERRORS.items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", code)
        assert 400 <= entry.status <= 599
        assert entry.zh and entry.en
        assert re.search(r"[\u4e00-\u9fff]", entry.zh), f"{code}: message should be Chinese"
