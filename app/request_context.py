"""The request id: accepted from ``X-Request-ID`` when sane, else generated (128 random bits)."""
from __future__ import annotations

import os
import re

from flask import g, has_request_context, request

_SAFE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def request_id() -> str:
    if not has_request_context():
        return "-"
    rid = g.get("request_id")
    if rid is None:
        given = request.headers.get("X-Request-ID")
        rid = g.request_id = given if given and _SAFE.match(given) else os.urandom(16).hex()
    return rid
