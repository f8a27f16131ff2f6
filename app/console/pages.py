"""What every console page shares: the blueprint (``console_blueprint``), who is signed in,
CSRF on every POST, the 404/403 pages of the API's permission layer, the navigation.

A page is a plain Flask view on a blueprint made by ``console_blueprint``. Before it runs, the
session cookie gives ``g.principal`` (the same ``Principal`` the API builds from a token, so
``current_principal()``, ``visible_object`` and every service behave as they do for the API);
a POST must carry the session's CSRF token (form field ``csrf_token`` or header
``X-CSRFToken``, which htmx sends from ``<body hx-headers>``). An ``ApiError`` raised by a
service becomes the error page with the API's status and message: not visible → 404, visible
but not allowed → 403, bad input → the message and the fields at fault.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError, validate_csrf
from marshmallow import fields
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import NotFound
from wtforms.validators import ValidationError

from app.console import BEIJING
from app.console import session as console_session
from app.errors import ApiError, message_for
from auth.principal import Principal
from auth.roles import ROLE_TITLES

PUBLIC_ATTR = "_console_public"
_INT = re.compile(r"^-?\d{1,18}$")


def public(view: Callable) -> Callable:
    """A page anyone may open (sign-in, password reset)."""
    setattr(view, PUBLIC_ATTR, True)
    return view


@dataclass(frozen=True)
class NavItem:
    """A link in the console's navigation, shown to the principals ``shown`` accepts."""

    label: str
    endpoint: str
    shown: Callable[[Principal], bool]
    values: dict[str, Any] = field(default_factory=dict)


def nav_items(principal: Principal) -> list[tuple[str, str]]:
    """(label, URL) of the pages this principal has."""
    items = current_app.extensions.get("console_nav", [])
    return [(item.label, url_for(item.endpoint, **item.values)) for item in items if item.shown(principal)]


def console_blueprint(name: str, import_name: str, *, url_prefix: str = "/console",
                      nav: tuple[NavItem, ...] = (), template_folder: str | None = None) -> Blueprint:
    """A blueprint of console pages: signed-in staff only (unless ``@public``), CSRF on POST,
    errors as pages. ``nav``: its links, added to the app's navigation when registered."""
    blp = Blueprint(f"console_{name}", import_name, url_prefix=url_prefix, template_folder=template_folder)
    blp.before_request(_before)
    blp.register_error_handler(ApiError, error_page)
    blp.register_error_handler(CSRFError, lambda exc: error_page(ApiError("csrf_invalid")))

    def add_nav(state: Any) -> None:
        state.app.extensions.setdefault("console_nav", []).extend(nav)

    if nav:
        blp.record_once(add_nav)
    return blp


def _before() -> Any:
    g.principal = console_session.principal()
    if request.method == "POST":
        token = request.form.get("csrf_token") or request.headers.get("X-CSRFToken")
        try:
            validate_csrf(token)
        except ValidationError as exc:
            raise ApiError("csrf_invalid") from exc
    view = current_app.view_functions.get(request.endpoint or "")
    if view is not None and getattr(view, PUBLIC_ATTR, False):
        return None
    if not g.principal.is_staff:
        if request.headers.get("HX-Request"):
            return "", 401, {"HX-Redirect": url_for("console_shell.login")}
        return redirect(url_for("console_shell.login", next=local_path(request.full_path)))
    return None


def local_path(target: str | None) -> str | None:
    """``target`` when it is a path of the console (never another site: no open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console/") or "\\" in target:
        return None
    return target.rstrip("?")


def safe_next(target: str | None) -> str:
    return local_path(target) or url_for("console_shell.home")


TITLES = {401: "请先登录", 403: "无权操作", 404: "页面不存在", 409: "状态已变化", 429: "操作过于频繁"}


def error_page(exc: ApiError) -> Any:
    """The API's error as a page (same status, same Chinese message, the fields at fault)."""
    if exc.status == 401:
        return redirect(url_for("console_shell.login"))
    title = TITLES.get(exc.status, "无法完成")
    message = exc.message or message_for(exc.code)
    return render("console/error.html", title=title, code=exc.code, message=message,
                  errors=exc.errors or {}), exc.status, exc.headers


def not_found(*_: Any) -> Any:
    return error_page(ApiError("not_found"))


def render(template: str, **context: Any) -> str:
    """A page in the console's layout (who is signed in, the navigation)."""
    principal = g.get("principal") or Principal("anonymous")
    return render_template(template, principal=principal, role_title=ROLE_TITLES.get(principal.role or "", ""),
                           nav=nav_items(principal) if principal.is_staff else [], **context)


def form_args(schema: type, *, lists: tuple[str, ...] = (), skip: tuple[str, ...] = (),
              source: Any = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The form (or query string on GET) loaded by an API schema, so a page takes exactly what
    the API takes and refuses it the same way (422 with the fields at fault). Empty fields
    count as absent; ``lists``: fields that repeat; ``skip``: the page's own fields; ``source``:
    a cleaned copy of the form (a ``MultiDict``) instead of the request's; ``extra``: values a
    page assembled itself (a list of rows), loaded with the rest."""
    if source is None:
        source = request.form if request.method == "POST" else request.args
    data: dict[str, Any] = {}
    for key in source:
        if key == "csrf_token" or key in skip:
            continue
        values = [v for v in source.getlist(key) if v.strip() != ""]
        if values:
            data[key] = values if key in lists else values[0]
    return load_form(schema, {**data, **(extra or {})})


def load_form(schema: type, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (a form's values, already gathered: nested lists too) loaded by an API schema;
    its top-level integers may come as text. Refused as the API refuses: 422 with the fields."""
    from marshmallow import ValidationError as SchemaError

    loader = schema()
    for key, value in data.items():  # a form's numbers are text; the API's integers are strict
        if isinstance(loader.fields.get(key), fields.Integer) and isinstance(value, str) and _INT.match(value):
            data[key] = int(value)
    try:
        return loader.load(data)
    except SchemaError as exc:
        raise ApiError("validation_error", errors=_flat(exc.messages)) from exc


def _flat(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """A schema's messages by field, nested ones named by their path (``contacts.0.phone``)."""
    if not isinstance(messages, dict):
        return {prefix or "_": [str(m) for m in messages] if isinstance(messages, list) else [str(messages)]}
    out: dict[str, list[str]] = {}
    for key, value in messages.items():
        out.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def query(**defaults: str) -> MultiDict:
    """The query string with ``defaults`` for what it leaves out (empty counts as left out): the
    ``source`` of ``form_args`` for a page whose filters have defaults (today, a page size)."""
    return MultiDict({**defaults, **{k: v for k, v in request.args.items() if v.strip()}})


def beijing_today() -> date:
    """Today in Beijing by the app's clock (a page's default day)."""
    from app.context import current_clock

    return current_clock().now().astimezone(BEIJING).date()


def with_beijing_offset(value: str) -> str:
    """A ``datetime-local`` field's value (no offset) is Beijing time; the API's schemas want an
    offset (``2026-12-05T10:00`` → ``2026-12-05T10:00+08:00``); anything else is left as typed."""
    if value and len(value) in (16, 19) and value[10:11] == "T" and "+" not in value and not value.endswith("Z"):
        return value + "+08:00"
    return value


def requires(check: Callable[[Principal], bool]) -> Callable[[Callable], Callable]:
    """A page for the principals ``check`` accepts; anyone else signed in gets the 403 page."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not check(g.principal):
                raise ApiError("forbidden")
            return view(*args, **kwargs)

        return wrapper

    return decorator


__all__ = ["NavItem", "NotFound", "beijing_today", "console_blueprint", "error_page", "form_args", "load_form",
           "local_path", "not_found", "public", "query", "render", "requires", "safe_next", "with_beijing_offset"]
