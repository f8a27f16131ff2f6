"""The endpoints ``make bench`` measures: data, so each issue adds its own.

An ``Endpoint`` is a name, a method and a path, with optionally:
- ``lua``: a wrk script (text) for bodies and headers, e.g. ``json_post_lua(...)``;
- ``headers``: extra request headers (sent with ``wrk -H``);
- ``target_ratio``: the least acceptable requests/s relative to ``/healthz`` in the same round;
- ``target_p50_ms``: the largest acceptable median latency (milliseconds);
- ``connections``: wrk connections for this endpoint instead of ``BENCH_CONNECTIONS`` (a
  latency target is measured without a queue: as many connections as gunicorn workers);
- ``setup``: a callable run once the server is up and seeded, before the first round. It
  gets a ``BenchContext`` (base URL, database URL, environment) and may prepare data or
  log in, returning a ``Prepared`` (headers and/or a lua script that replace the static
  ones) or None.

``/healthz`` is the baseline: it stays first and every round measures it.

``SERVER_SETTINGS`` are added to the server's environment (e.g. rate limits lifted so that
a load test measures the work, not the limiter's refusals); the report lists them.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

BASELINE_PATH = "/healthz"


@dataclass(frozen=True)
class BenchContext:
    base_url: str
    database_url: str
    env: Mapping[str, str]


@dataclass(frozen=True)
class Prepared:
    headers: Mapping[str, str] = field(default_factory=dict)
    lua: str | None = None


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    method: str = "GET"
    lua: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    target_ratio: float | None = None
    setup: Callable[[BenchContext], Prepared | None] | None = None
    target_p50_ms: float | None = None
    connections: int | None = None  # None: BENCH_CONNECTIONS; 0: one per gunicorn worker


def _lua_string(text: str) -> str:
    """A lua long-bracket literal that cannot be closed by the text itself."""
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    eq = "=" * level
    return f"[{eq}[{text}]{eq}]"


def json_post_lua(body: Any, headers: Mapping[str, str] | None = None, method: str = "POST") -> str:
    """A wrk script sending ``body`` as JSON with ``method`` (and extra headers)."""
    lines = [
        f"wrk.method = {_lua_string(method)}",
        f"wrk.body = {_lua_string(json.dumps(body, ensure_ascii=False))}",
        'wrk.headers["Content-Type"] = "application/json"',
    ]
    for name, value in (headers or {}).items():
        lines.append(f"wrk.headers[{_lua_string(name)}] = {_lua_string(value)}")
    return "\n".join(lines) + "\n"


def _qr_endpoints() -> list[Endpoint]:
    from bench import qr_setup

    return [
        Endpoint("qr verify (personal, device)", "/api/v1/qr/verify", method="POST", target_ratio=0.45,
                 setup=qr_setup.verify_setup),
        Endpoint("qr personal code", "/api/v1/qr/personal", method="POST", target_ratio=0.5,
                 setup=qr_setup.personal_setup),
        Endpoint("qr personal image", "/api/v1/qr/personal/image", target_p50_ms=15.0, connections=0,
                 setup=qr_setup.image_setup),
    ]


SERVER_SETTINGS: dict[str, str] = {
    # The per-resident limit on personal codes would refuse a load test within a second.
    "RATELIMIT_QR_PERSONAL": "100000000/minute",
}

ENDPOINTS: list[Endpoint] = [
    Endpoint("healthz", BASELINE_PATH),
    Endpoint("scenarios", "/api/v1/scenarios"),
    Endpoint("communities search 金山", "/api/v1/communities?q=" + quote("金山"), target_ratio=0.5),
    *_qr_endpoints(),
]
