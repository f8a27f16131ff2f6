"""A reading's value checked against its kind's fields.

Type faults are ``validation_error``; a number outside its bounds (a bound may depend on the
subject: occupancy ≤ capacity) or an enum value not among the choices is
``reading_out_of_range``; each names the field (``value.<field>``, prefixed in a batch).
Personal fields are checked and kept out of what the engine stores.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from app.errors import ApiError
from app.fields import INT64_MAX, INT64_MIN, misleading_chars
from scenarios.engines.telemetry.config import Bound, Field, ReadingKind


def _bound(bound: Bound, subject: Any) -> float | int | None:
    return bound(subject) if callable(bound) else bound


@cache
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@cache
def needs_subject(kind: ReadingKind) -> bool:
    """Whether checking or acting on a reading of ``kind`` needs its subject loaded."""
    return (any(callable(f.minimum) or callable(f.maximum) for f in kind.fields)
            or any(t.when is not None for t in kind.thresholds)
            or any(h is not None for h in (kind.on_reading, kind.on_offline, kind.on_back_online,
                                           kind.alert_recipients)))


def _type_error(field: Field, value: Any) -> str | None:
    """The message when ``value`` is not of the field's type, else None."""
    if field.type == "int":
        ok = isinstance(value, int) and not isinstance(value, bool) and INT64_MIN <= value <= INT64_MAX
        return None if ok else "须为整数。"
    if field.type == "float":
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        return None if ok else "须为数值。"
    if field.type == "bool":
        return None if isinstance(value, bool) else "须为 true 或 false。"
    if not isinstance(value, str):
        return "须为字符串。"
    if not value or len(value) > field.max_length or "\x00" in value or misleading_chars(value):
        return f"须为 1–{field.max_length} 个可见字符。"
    if field.pattern is not None and not _pattern(field.pattern).fullmatch(value):
        return "格式不正确。"
    return None


def _range_error(field: Field, value: Any, subject: Any) -> str | None:
    if field.type == "enum":
        return None if value in field.choices else f"可选值：{', '.join(field.choices)}。"
    if field.type not in ("int", "float"):
        return None
    low, high = _bound(field.minimum, subject), _bound(field.maximum, subject)
    if low is not None and value < low:
        return f"不能小于 {low}。"
    if high is not None and value > high:
        return f"不能大于 {high}。"
    return None


def check(kind: ReadingKind, value: Any, subject: Any, *, prefix: str = "") -> tuple[dict[str, Any], dict[str, Any]]:
    """``(value, stored)``: the checked value and its part the engine stores (no personal field).
    Raises the first fault found (type faults before range faults)."""
    where = f"{prefix}value"
    if not isinstance(value, Mapping):
        raise ApiError("validation_error", errors={where: ["须为对象。"]})
    names = {f.name for f in kind.fields}
    unknown = sorted(str(k) for k in value if k not in names)
    if unknown:
        raise ApiError("validation_error", errors={f"{where}.{unknown[0][:40]}": ["没有这个字段。"]})
    checked: dict[str, Any] = {}
    for field in kind.fields:
        item = value.get(field.name)
        if item is None:
            if field.required:
                raise ApiError("validation_error", errors={f"{where}.{field.name}": ["必填。"]})
            continue
        message = _type_error(field, item)
        if message is not None:
            raise ApiError("validation_error", errors={f"{where}.{field.name}": [message]})
        checked[field.name] = float(item) if field.type == "float" else item
    for field in kind.fields:
        if field.name in checked:
            message = _range_error(field, checked[field.name], subject)
            if message is not None:
                raise ApiError("reading_out_of_range", errors={f"{where}.{field.name}": [message]})
    stored = {f.name: checked[f.name] for f in kind.fields if f.name in checked and not f.personal}
    return checked, stored
