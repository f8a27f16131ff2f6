"""Template data within WeChat's limits for each kind of field.

WeChat refuses a whole message (47003) when one value breaks its kind's rule, so values are
made to fit here: free text is cut on a character boundary with an ellipsis, identifiers
and short words are cut hard, and what cannot be made valid (a number that is not one, a
missing payload key) raises ``TemplateDataError`` — a permanent failure of that message.

Limits (WeChat's documentation of subscription messages): thing 20 characters, short_thing
5, number 32 digits (a decimal point allowed), letter 32 letters, symbol 5, character_string
32 letters/digits/symbols, phone_number 17 digits and symbols, car_number 8, name 10 (20 if
Latin letters only), phrase 5 Chinese characters, time ``2026年11月2日 09:00`` (Beijing),
date ``2026年11月2日``, amount ``¥12.50`` (payload in fen). Lengths count Unicode code
points; a cut never separates a base character from its combining marks, a ZWJ sequence,
a variation selector, a skin-tone modifier or the other half of a flag.
"""
from __future__ import annotations

import re
import string
import unicodedata
from datetime import date, datetime
from typing import Any

from app.fields import CST
from app.notify.templates import WechatTemplate, wechat_kind

ELLIPSIS = "…"
LIMITS = {"thing": 20, "short_thing": 5, "number": 32, "letter": 32, "symbol": 5, "character_string": 32,
          "phone_number": 17, "car_number": 8, "phrase": 5}
_SPACES = re.compile(r"\s+")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$", re.ASCII)
_PHONE = re.compile(r"^[\d+\-() ]+$", re.ASCII)
_ASCII_PRINTABLE = set(string.ascii_letters + string.digits + string.punctuation)


class TemplateDataError(ValueError):
    """The payload cannot fill the template (the message fails for good)."""


def clean_text(value: str) -> str:
    """One line: whitespace runs become one space, control and format characters go
    (except the joiners and selectors that keep emoji whole)."""
    value = _SPACES.sub(" ", value).strip()
    return "".join(c for c in value if not _is_control(c))


def _is_control(c: str) -> bool:
    cat = unicodedata.category(c)
    return cat == "Cc" or (cat == "Cf" and c != "\u200d")


def _extends(c: str) -> bool:
    """Characters that belong to the preceding one: never start a cut here."""
    cp = ord(c)
    return (
        unicodedata.category(c) in ("Mn", "Me", "Mc")
        or c == "\u200d"
        or 0xFE00 <= cp <= 0xFE0F
        or 0xE0100 <= cp <= 0xE01EF
        or 0x1F3FB <= cp <= 0x1F3FF
        or 0xE0020 <= cp <= 0xE007F  # tag characters (subdivision flags)
    )


def _regional(c: str) -> bool:
    return 0x1F1E6 <= ord(c) <= 0x1F1FF


def clean_cut_index(text: str, end: int) -> int:
    """The largest index ≤ ``end`` at which ``text`` may be cut without splitting a character."""
    end = max(0, min(end, len(text)))
    while 0 < end < len(text) and (_extends(text[end]) or text[end - 1] == "\u200d"):
        end -= 1
    if 0 < end < len(text) and _regional(text[end]):
        run = 0
        while end - run - 1 >= 0 and _regional(text[end - run - 1]):
            run += 1
        if run % 2:  # text[end] is the second half of a flag
            end -= 1
    return end


def cut(text: str, limit: int, *, ellipsis: bool = True) -> str:
    """``text`` in at most ``limit`` characters, cut cleanly (with ``…`` when ``ellipsis``)."""
    if len(text) <= limit:
        return text
    room = limit - 1 if ellipsis else limit
    end = clean_cut_index(text, room)
    head = text[:end].rstrip()
    return head + ELLIPSIS if ellipsis else head


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value)
        except ValueError as exc:
            raise TemplateDataError("not an ISO 8601 time") from exc
    else:
        raise TemplateDataError("not a time")
    if dt.tzinfo is None:
        raise TemplateDataError("a time without an offset")
    return dt.astimezone(CST)


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return _as_datetime(value).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value) if len(value) == 10 else _as_datetime(value).date()
        except ValueError as exc:
            raise TemplateDataError("not an ISO 8601 date") from exc
    raise TemplateDataError("not a date")


def format_value(kind: str, value: Any) -> str:
    """``value`` as WeChat accepts it for a field of ``kind``."""
    if value is None or value == "":
        raise TemplateDataError("empty value")
    if kind == "time":
        dt = _as_datetime(value)
        return f"{dt.year}年{dt.month}月{dt.day}日 {dt:%H:%M}"
    if kind == "date":
        d = _as_date(value)
        return f"{d.year}年{d.month}月{d.day}日"
    if kind == "amount":
        if isinstance(value, bool) or not isinstance(value, int):
            raise TemplateDataError("an amount is an integer number of fen")
        text = f"¥{value / 100:.2f}"
        if len(text.replace(".", "").lstrip("¥-")) > 10:
            raise TemplateDataError("an amount over 10 digits")
        return text
    if kind == "number":
        if isinstance(value, bool):
            raise TemplateDataError("not a number")
        text = str(value).strip()
        if not _NUMBER.match(text) or len(text) > LIMITS["number"]:
            raise TemplateDataError("not a number of at most 32 digits")
        return text
    text = clean_text(str(value))
    if not text:
        raise TemplateDataError("empty value")
    if kind == "thing":
        return cut(text, LIMITS["thing"])
    if kind == "name":
        limit = 20 if all(c.isascii() for c in text) else 10
        return cut(text, limit)
    if kind == "phrase":
        han = "".join(c for c in text if unicodedata.name(c, "").startswith("CJK UNIFIED"))
        if not han:
            raise TemplateDataError("a phrase is Chinese characters")
        return han[: LIMITS["phrase"]]
    if kind == "character_string":
        kept = "".join(c for c in text if c in _ASCII_PRINTABLE)
        if not kept:
            raise TemplateDataError("a character_string is letters, digits and symbols")
        return kept[: LIMITS["character_string"]]
    if kind == "letter":
        kept = "".join(c for c in text if c.isascii() and c.isalpha())
        if not kept:
            raise TemplateDataError("a letter field is Latin letters")
        return kept[: LIMITS["letter"]]
    if kind == "phone_number":
        if not _PHONE.match(text) or len(text) > LIMITS["phone_number"]:
            raise TemplateDataError("not a phone number")
        return text
    if kind in ("short_thing", "symbol", "car_number"):
        return cut(text, LIMITS[kind], ellipsis=False)
    raise TemplateDataError(f"unknown kind {kind}")


def build_data(template: WechatTemplate, payload: dict[str, Any]) -> dict[str, dict[str, str]]:
    """``{"thing1": {"value": "…"}, …}`` from the payload; TemplateDataError names the key."""
    data: dict[str, dict[str, str]] = {}
    for key, source in template.data:
        raw = source.value if source.value is not None else payload.get(source.key or "")
        try:
            data[key] = {"value": format_value(wechat_kind(key), raw)}
        except TemplateDataError as exc:
            raise TemplateDataError(f"{key} ({source.key or 'constant'}): {exc}") from exc
    return data


class _Strict(dict):
    def __missing__(self, key: str) -> str:
        raise TemplateDataError(f"page: payload has no {key}")


def build_page(template: WechatTemplate, payload: dict[str, Any]) -> str:
    """The page path with ``{payload_key}`` placeholders filled (URL-quoted)."""
    from urllib.parse import quote

    try:
        return template.page.format_map(_Strict({k: quote(str(v), safe="") for k, v in payload.items()}))
    except TemplateDataError:
        raise
    except (ValueError, IndexError, AttributeError) as exc:
        raise TemplateDataError("page: bad placeholder") from exc
