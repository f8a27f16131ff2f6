"""Placeholder."""
from __future__ import annotations

from flask import Blueprint


def blueprints() -> list[Blueprint]:
    return []
