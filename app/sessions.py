"""Cookie sessions only where a page needs one (the staff console under ``/console/``): the
JSON API authenticates every request by its token, so it never reads or signs a cookie."""
from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

COOKIE_PREFIX = "/console"


class ConsoleOnlySessions(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if not request.path.startswith(COOKIE_PREFIX):
            return self.make_null_session(app)
        return super().open_session(app, request)
