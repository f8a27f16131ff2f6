"""The request id: accepted from ``X-Request-ID`` when sane, else generated."""
from __future__ import annotations

import re
import uuid

from flask import g, has_request_context, request

_SAFE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def request_id() -> str:
    if not has_request_context():
        return "-"
    if "request_id" not in g:
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if _SAFE.match(given) else uuid.uuid4().hex
    return g.request_id
