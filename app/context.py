"""The application's clock, settings and database for code running inside a request or an
application context (routes, channels). Services never call these: they take what they need
as arguments."""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app

if TYPE_CHECKING:
    from app.clock import Clock
    from app.config import Settings
    from app.db import Database


def current_clock() -> Clock:
    return current_app.extensions["clock"]


def current_settings() -> Settings:
    return current_app.extensions["settings"]


def current_db() -> Database:
    return current_app.extensions["db"]
