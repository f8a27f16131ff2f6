"""Headers every answer carries for safety (one ``after_request`` hook).

- Every answer: ``X-Content-Type-Options: nosniff`` (a browser never guesses a type, so an
  uploaded file or a JSON string is never run as a script or page).
- ``Cache-Control: no-store`` on every ``/api/`` answer and every answer to a request with
  ``Authorization``, unless the route chose its own ``Cache-Control`` (public data and signed
  URLs do: hotspots, the QR JWKS, signed upload URLs, place posters). The simplest rule that
  covers every answer with personal data, tokens or live QR codes, including the anonymous
  sign-in answers that hand out tokens; no shared cache or browser keeps a copy.
- ``/console/`` (the staff console): a Content-Security-Policy without ``unsafe-inline`` (scripts,
  styles, images and requests from us only; no inline script or style anywhere in its pages),
  no framing, ``Referrer-Policy: same-origin`` and ``no-store`` on its pages (personal data);
  its vendored static files keep the ``Cache-Control`` Flask gives them.
- ``/docs`` (Swagger UI): a Content-Security-Policy allowing only our own scripts, styles and
  the page's one inline script (by its hash, computed from the page itself), no framing
  (``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``), and ``no-store``.
"""
from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache

from flask import Flask, Response, request

DOCS_PATH = "/docs"
CONSOLE_PATH = "/console"
CONSOLE_STATIC = "/console/static/"
CONSOLE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                  "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


@lru_cache(maxsize=8)
def docs_policy(page: str) -> str:
    """The CSP of the Swagger UI page ``page``: its inline scripts are allowed by hash only."""
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
                      for s in _INLINE_SCRIPT.findall(page))
    return ("default-src 'none'; "
            f"script-src 'self' {hashes}; "
            "style-src 'self' 'unsafe-inline'; "  # Swagger UI sets style attributes
            "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


def add_headers(resp: Response) -> Response:
    resp.headers["X-Content-Type-Options"] = "nosniff"
    path = request.path
    if path == DOCS_PATH or path == DOCS_PATH + "/":
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Cache-Control"] = "no-store"
        if resp.mimetype == "text/html" and not resp.direct_passthrough:
            resp.headers["Content-Security-Policy"] = docs_policy(resp.get_data(as_text=True))
        else:
            resp.headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
    elif path == CONSOLE_PATH or path.startswith(CONSOLE_PATH + "/"):
        resp.headers["Content-Security-Policy"] = CONSOLE_POLICY
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Referrer-Policy"] = "same-origin"
        if not path.startswith(CONSOLE_STATIC) and "Cache-Control" not in resp.headers:
            resp.headers["Cache-Control"] = "no-store"
    elif "Cache-Control" not in resp.headers and (path.startswith("/api/") or "Authorization" in request.headers):
        resp.headers["Cache-Control"] = "no-store"
    return resp


def install(app: Flask) -> None:
    app.after_request(add_headers)
