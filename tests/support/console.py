"""Helpers of the staff console's tests: the CSRF token of a page, signing in as a person would,
comparing two pages."""
from __future__ import annotations

import re
from typing import Any

from tests.support.factories import STAFF_PASSWORD

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
_ANY_TOKEN = re.compile(rb'("X-CSRFToken": "|name="csrf_token" value=")[^"]+"')


def page_bytes(resp) -> bytes:
    """A page's bytes with the session's CSRF token blanked: the token is signed with the time,
    so two pages drawn a second apart differ there and nowhere else (the 404 page of a hidden
    object must be the 404 page of a missing one, byte for byte, but for that)."""
    return _ANY_TOKEN.sub(rb'\1-"', resp.get_data())


def csrf(client, path: str = "/console/login") -> str:
    """The CSRF token of the session, read from a page's form (as a browser has it)."""
    resp = client.get(path)
    match = _TOKEN.search(resp.get_data(as_text=True))
    assert match, (path, resp.status_code)
    return match.group(1)


def sign_in(client, username: str, password: str = STAFF_PASSWORD, *, org: str | None = None,
            expect: int = 302) -> Any:
    client.delete_cookie("jinshan_console", path="/console")  # a new visitor at the sign-in page
    form = {"username": username, "password": password, "csrf_token": csrf(client)}
    if org:
        form["org"] = org
    resp = client.post("/console/login", data=form)
    assert resp.status_code == expect, (resp.status_code, resp.get_data(as_text=True)[-800:])
    return resp


def post(client, path: str, data: dict[str, Any] | None = None, *, page: str = "/console/", **kw: Any) -> Any:
    """A form POST with the session's CSRF token."""
    return client.post(path, data={"csrf_token": csrf(client, page), **(data or {})}, **kw)
