"""The staff console: server-rendered pages under ``/console/`` for the people who work the
tickets, claims and policies (Jinja2 + htmx, no Node build, every asset vendored).

Pages call the same service functions as the JSON API, as the same principal: a console
session is a staff sign-in session (a refresh family) whose principal is checked on every
request against the authentication cache (``auth.principal.staff_from_session``), so a logout
or a disabled member is out at the next request. The shell (sign-in, layout, administration)
lives here; each engine's and scenario's pages live beside its code and are named by its
declaration (``console=("scenarios.engines.workflow.console:blueprints",)``), built with
``app.console.pages.console_blueprint``.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone

from flask import Blueprint, Flask

SESSION_HOURS = 12
"""A console session lasts a working day at most (a logout ends it at once)."""
BEIJING = timezone(timedelta(hours=8))


def beijing(value: datetime | None, fmt: str = "%m-%d %H:%M") -> str:
    """A time as the console shows it: Beijing time (the district's), without the offset."""
    return value.astimezone(BEIJING).strftime(fmt) if value is not None else "—"


def install(app: Flask, page_factories: Iterable[Callable[[], list[Blueprint]]]) -> None:
    """Cookies, the shell's pages, then each engine's and scenario's pages."""
    from flask_wtf.csrf import generate_csrf

    from app.console import admin, committee, devices, moderation, shell, staff_pages

    settings = app.extensions["settings"]
    app.config.update(
        SESSION_COOKIE_NAME="jinshan_console",
        SESSION_COOKIE_PATH="/console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.app_env not in ("development", "test"),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
        WTF_CSRF_TIME_LIMIT=SESSION_HOURS * 3600,
    )
    app.jinja_env.globals["csrf_token"] = generate_csrf
    app.jinja_env.filters["beijing"] = beijing
    app.extensions["console_nav"] = []
    for blp in (*shell.blueprints(), *committee.blueprints(), *staff_pages.blueprints(), *devices.blueprints(),
                *moderation.blueprints(), *admin.blueprints()):
        app.register_blueprint(blp)
    for factory in page_factories:
        for blp in factory():
            app.register_blueprint(blp)
