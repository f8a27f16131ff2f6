"""Project marshmallow fields: they refuse what a database would choke on.

Use these (``from app.api import fields``) instead of marshmallow's own: strings without
NUL characters or lone surrogates, integers within 64 bits, datetimes with an offset, and
datetimes that go out in ISO 8601 with Beijing's +08:00 offset.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import marshmallow as ma
from marshmallow import fields as _f
from marshmallow.fields import (
    Boolean,
    Dict,
    Enum,
    List,
    Nested,
    Raw,
    Url,
)

CST = timezone(timedelta(hours=8), "Asia/Shanghai")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")


class String(_f.String):
    default_error_messages = {
        "bad_chars": "含有不允许的字符（NUL 或无效的 Unicode）。",
    }

    def _deserialize(self, value: Any, attr: Any, data: Any, **kw: Any) -> str:
        result = super()._deserialize(value, attr, data, **kw)
        if _BAD_CHARS.search(result):
            raise self.make_error("bad_chars")
        return result


class Integer(_f.Integer):
    """An integer within the signed 64-bit range; strict (no "3" for 3) unless told otherwise,
    which query-string schemas must do since everything there is text."""

    default_error_messages = {"int64": "超出 64 位整数范围。"}

    def __init__(self, **kw: Any) -> None:
        kw.setdefault("strict", True)
        super().__init__(**kw)

    def _validated(self, value: Any) -> int:
        result = super()._validated(value)
        if result is not None and not INT64_MIN <= result <= INT64_MAX:
            raise self.make_error("int64")
        return result


class Float(_f.Float):
    def __init__(self, **kw: Any) -> None:
        kw.setdefault("allow_nan", False)
        super().__init__(**kw)


class DateTime(_f.AwareDateTime):
    """ISO 8601 in and out; input must carry an offset; output is in +08:00."""

    def __init__(self, **kw: Any) -> None:
        kw.setdefault("format", "iso")
        super().__init__(**kw)

    def _serialize(self, value: datetime | None, attr: Any, obj: Any, **kw: Any) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(CST).isoformat()


class Date(_f.Date):
    pass


class Email(_f.Email, String):
    pass


def to_cst_iso(value: datetime) -> str:
    return value.astimezone(CST).isoformat()


__all__ = [
    "CST",
    "Boolean",
    "Date",
    "DateTime",
    "Dict",
    "Email",
    "Enum",
    "Float",
    "Integer",
    "List",
    "Nested",
    "Raw",
    "String",
    "Url",
    "ma",
    "to_cst_iso",
]
