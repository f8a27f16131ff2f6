"""What every request pays for, and no more: no cookie session outside the console, the rate
limiter only where a limit applies, one request id, and the log scrubber's shortcuts exact."""
from __future__ import annotations

import dataclasses
import re

import pytest
from flask import session as flask_session
from hypothesis import given, settings
from hypothesis import strategies as st

from app.logs import _REDACTIONS, scrub
from app.sessions import ConsoleOnlySessions


def _reference_scrub(text: str) -> str:
    """Every redaction, in order, on the whole text: what ``scrub`` must equal."""
    for pattern, repl in _REDACTIONS:
        text = pattern.sub(repl, text)
    return text


_PIECES = st.sampled_from([
    "13912345678", "１３９１２３４５６７８", "31011619800101123X", "310116198001011234", "2", "139123456789",
    "password", "PassWord", "secret", "token", "Authorization", "authorization: Bearer abc", "password=hunter2",
    '"token": "x"', "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", " ", ":", "=", '"', "'", ",", "}", "a", "金山",
    "2026-12-04T15:39:52+0000", "duration_ms",
])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(_PIECES, st.text(max_size=8)), max_size=12).map("".join))
def test_the_scrubber_with_its_shortcuts_redacts_exactly_what_every_pattern_would(text):
    assert scrub(text) == _reference_scrub(text)


def test_the_scrubber_still_redacts():
    line = '{"path": "/x/13912345678", "id": "31011619800101123X", "password": "hunter2"}'
    out = scrub(line)
    assert "13912345678" not in out and "31011619800101123X" not in out and "hunter2" not in out


@pytest.fixture
def own_app(settings, db, clock):
    """An app of this test's own (routes may be added; counters in memory, not Redis)."""
    from app import create_app

    return create_app(dataclasses.replace(settings, redis_url=None, extra=dict(settings.extra)), database=db,
                      clock=clock)


def test_the_api_never_opens_or_sets_a_cookie_session(own_app):
    seen = []

    @own_app.get("/api/v1/test-session-probe")
    def probe():
        seen.append(type(flask_session._get_current_object()).__name__)
        return {"ok": True}

    client = own_app.test_client()
    client.set_cookie("session", "eyJmb28iOiJiYXIifQ.forged.sig")
    resp = client.get("/api/v1/test-session-probe")
    assert resp.status_code == 200 and "Set-Cookie" not in resp.headers
    assert seen == ["NullSession"]
    assert "Set-Cookie" not in client.get("/healthz").headers


def test_the_console_gets_a_signed_cookie_session(app):
    from flask import request

    with app.test_request_context("/console/"):
        assert type(ConsoleOnlySessions().open_session(app, request)).__name__ == "SecureCookieSession"
    with app.test_request_context("/api/v1/me"):
        assert type(ConsoleOnlySessions().open_session(app, request)).__name__ == "NullSession"


def test_an_unlimited_route_never_touches_the_rate_limit_storage(own_app):
    client = own_app.test_client()
    storage = own_app.extensions["ratelimit_storage"]
    assert storage.primary is None
    for _ in range(5):
        assert client.get("/healthz").status_code == 200
    assert dict(storage.memory.storage) == {}
    own_app.extensions["settings"].extra["RATELIMIT_DEFAULT"] = "2/minute"  # now every route counts
    assert [client.get("/healthz").status_code for _ in range(3)] == [200, 200, 429]
    assert len(storage.memory.storage) == 1


def test_one_request_id_per_request_and_a_sane_one_kept(client):
    a, b = client.get("/healthz"), client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", a.headers["X-Request-ID"]) and a.headers["X-Request-ID"] != \
        b.headers["X-Request-ID"]
    assert client.get("/healthz", headers={"X-Request-ID": "abc.123:x-y"}).headers["X-Request-ID"] == "abc.123:x-y"
    weird = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"}).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", weird)
