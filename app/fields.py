"""Project marshmallow fields: they refuse what a database would choke on.

Use these (``from app.api import fields``) instead of marshmallow's own: strings without
NUL characters, lone surrogates or characters that make text read otherwise than it is
(bidirectional overrides and isolates, zero-width characters), integers within 64 bits,
datetimes with an offset, dates and datetimes within ``DATE_MIN``..``DATE_MAX`` (so no
arithmetic on them, a range or a day added or an offset applied, can leave the calendar), and
datetimes that go out in ISO 8601 with Beijing's +08:00 offset.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone
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
)

CST = timezone(timedelta(hours=8), "Asia/Shanghai")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")
# Bidirectional embeddings/overrides (U+202A–202E), isolates (U+2066–2069) and zero-width
# characters and marks (U+200B–200F): they make a name, an address or a report read otherwise
# than it is stored ("Trojan Source"), or two strings that look alike differ.
_MISLEADING_CHARS = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
ZWJ = "\u200d"
# Message of the one field error that ``app.api`` turns into the code ``text_control_chars``.
MISLEADING_CHARS_MESSAGE = "含有不可见的控制字符（双向文字覆盖或零宽字符）。"

# Every date and datetime accepted is within these (wall-clock, in its own offset): far enough
# from year 1 and year 9999 that a range, a day added or an offset applied never overflows.
DATE_MIN, DATE_MAX = date(1900, 1, 1), date(2199, 12, 31)
_DATE_RANGE_MESSAGE = f"日期须在 {DATE_MIN.isoformat()} 与 {DATE_MAX.isoformat()} 之间。"


def _emoji_side(ch: str) -> bool:
    """A character a zero-width joiner may glue in an emoji sequence (👨‍👩‍👧, 🏳️‍🌈, 👩🏽‍💻)."""
    return ch == "\ufe0f" or unicodedata.category(ch) in {"So", "Sk"}


def misleading_chars(text: str) -> bool:
    """Does ``text`` hold a bidi control or a zero-width character, a joiner inside an emoji
    sequence excepted (it is how families and flags are written, and misleads nobody)?"""
    for match in _MISLEADING_CHARS.finditer(text):
        i = match.start()
        if (text[i] == ZWJ and 0 < i < len(text) - 1
                and _emoji_side(text[i - 1]) and _emoji_side(text[i + 1])):
            continue
        return True
    return False


class String(_f.String):
    """Text without NUL, lone surrogates, bidi controls or zero-width characters.

    No field of ours needs the last two: names, addresses, reports and notes are read by
    people who must see what was written. A field that ever does passes ``allow_controls=True``.
    """

    default_error_messages = {
        "bad_chars": "含有不允许的字符（NUL 或无效的 Unicode）。",
        "misleading_chars": MISLEADING_CHARS_MESSAGE,
    }

    def __init__(self, *args: Any, allow_controls: bool = False, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.allow_controls = allow_controls

    def _deserialize(self, value: Any, attr: Any, data: Any, **kw: Any) -> str:
        result = super()._deserialize(value, attr, data, **kw)
        if _BAD_CHARS.search(result):
            raise self.make_error("bad_chars")
        if not self.allow_controls and misleading_chars(result):
            raise self.make_error("misleading_chars")
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
    """ISO 8601 in and out; input must carry an offset and lie within ``DATE_MIN``..``DATE_MAX``;
    output is in +08:00."""

    default_error_messages = {"date_range": _DATE_RANGE_MESSAGE}

    def __init__(self, **kw: Any) -> None:
        kw.setdefault("format", "iso")
        super().__init__(**kw)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kw: Any) -> datetime:
        try:
            result = super()._deserialize(value, attr, data, **kw)
        except OverflowError as exc:  # an offset that pushes the instant past year 1 or 9999
            raise self.make_error("date_range") from exc
        if not DATE_MIN <= result.date() <= DATE_MAX:
            raise self.make_error("date_range")
        return result

    def _serialize(self, value: datetime | None, attr: Any, obj: Any, **kw: Any) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(CST).isoformat()


class Date(_f.Date):
    """An ISO date within ``DATE_MIN``..``DATE_MAX``."""

    default_error_messages = {"date_range": _DATE_RANGE_MESSAGE}

    def _deserialize(self, value: Any, attr: Any, data: Any, **kw: Any) -> date:
        result = super()._deserialize(value, attr, data, **kw)
        if not DATE_MIN <= result <= DATE_MAX:
            raise self.make_error("date_range")
        return result


class Email(_f.Email, String):
    pass


class Url(_f.Url, String):
    pass


def to_cst_iso(value: datetime) -> str:
    return value.astimezone(CST).isoformat()


__all__ = [
    "CST",
    "DATE_MAX",
    "DATE_MIN",
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
