"""One outbound JSON request over HTTP(S) with a short timeout (WeChat's server API, WeCom, SMS).

Any HTTP status comes back as an answer; transport failures (timeout, refused, reset, a
body that is not a JSON object) raise ``Unreachable``. Nothing here logs: callers log
error codes only, never URLs (they carry access tokens) or bodies (they carry personal data).
"""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from app import json_input

MAX_ANSWER_BYTES = 1_000_000


class Unreachable(Exception):
    """No useful answer: timeout, network error, or a body that is not a JSON object."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


def post_json(url: str, body: dict[str, Any], *, timeout: float, params: dict[str, str] | None = None,
              headers: dict[str, str] | None = None, raw: bytes | None = None) -> Answer:
    """POST ``body`` as UTF-8 JSON (or the exact bytes ``raw``, when the caller signed them)."""
    if params:
        url = f"{url}?{urllib.parse.urlencode(params)}"
    if not url.startswith(("https://", "http://")):
        raise Unreachable("base URL must be http(s)")
    data = raw if raw is not None else encode(body)
    req = urllib.request.Request(url, data=data, method="POST", headers={  # noqa: S310 (scheme checked)
        "Accept": "application/json", "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "jinshan-life/1", **(headers or {}),
    })
    return _exchange(req, timeout)


def get_json(url: str, *, timeout: float, params: dict[str, str] | None = None) -> Answer:
    """GET ``url`` (with ``params`` as its query) and read a JSON object (WeCom's ``gettoken``)."""
    if params:
        url = f"{url}?{urllib.parse.urlencode(params)}"
    if not url.startswith(("https://", "http://")):
        raise Unreachable("base URL must be http(s)")
    req = urllib.request.Request(url, method="GET", headers={  # noqa: S310 (scheme checked)
        "Accept": "application/json", "User-Agent": "jinshan-life/1",
    })
    return _exchange(req, timeout)


def _exchange(req: urllib.request.Request, timeout: float) -> Answer:
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (scheme checked)
            status, content = resp.status, resp.read(MAX_ANSWER_BYTES)
    except urllib.error.HTTPError as err:
        status, content = err.code, err.read(MAX_ANSWER_BYTES)
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        raise Unreachable(type(exc).__name__) from exc
    try:
        answer = json_input.loads(content or b"{}")
    except ValueError as exc:
        raise Unreachable(f"not JSON (HTTP {status})") from exc
    if not isinstance(answer, dict):
        raise Unreachable(f"not a JSON object (HTTP {status})")
    return Answer(status, answer)


def encode(body: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON (WeChat counts characters, so no \\u escapes)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
