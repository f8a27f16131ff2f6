"""Identity providers: small HTTP clients with base URLs from the settings.

Both speak JSON over HTTPS with short timeouts (``*_TIMEOUT_SECONDS``) through the standard
library; they raise ``ApiError`` with the provider's error already mapped to ours, and log
only error codes (never a login code, token, secret or identity).
"""
from __future__ import annotations

import logging
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from app import json_input

log = logging.getLogger("auth.providers")


class ProviderDown(Exception):
    """The provider did not answer usefully (timeout, network, 5xx, not JSON)."""


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def http_json(method: str, url: str, *, timeout: float, params: dict[str, str] | None = None,
              form: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> HttpAnswer:
    """One request; any status comes back as an answer, transport failures raise ProviderDown."""
    if params:
        url = f"{url}?{urllib.parse.urlencode(params)}"
    if not url.startswith(("https://", "http://")):
        raise ProviderDown("base URL must be http(s)")
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={  # noqa: S310 (scheme checked)
        "Accept": "application/json", "User-Agent": "jinshan-life/1", **(headers or {}),
    })
    if data is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (scheme checked)
            status, raw, hdrs = resp.status, resp.read(1_000_000), dict(resp.headers)
    except urllib.error.HTTPError as err:
        status, raw, hdrs = err.code, err.read(1_000_000), dict(err.headers or {})
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        raise ProviderDown(type(exc).__name__) from exc
    try:
        body = json_input.loads(raw or b"{}")
    except ValueError as exc:
        raise ProviderDown(f"not JSON (HTTP {status})") from exc
    if not isinstance(body, dict):
        raise ProviderDown(f"not a JSON object (HTTP {status})")
    return HttpAnswer(status, body, hdrs)
