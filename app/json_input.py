"""Every JSON request body is decoded here: at most ``MAX_DEPTH`` levels of arrays and objects.

No body of ours nests more than a few levels. A deeper one is refused as ``json_too_deep``
before anything walks it: Python's decoder and marshmallow recurse, so a body of a hundred
thousand ``[`` would otherwise end in a ``RecursionError`` (a 500) in whatever route or hook
touched it first — the schema parser, a rate-limit key, a webhook.
"""
from __future__ import annotations

import json
from typing import Any

from flask.json.provider import DefaultJSONProvider

MAX_DEPTH = 32


class JsonTooDeep(ValueError):
    """Arrays and objects nested deeper than ``MAX_DEPTH`` (a ``ValueError``, so every caller
    that treats a bad body as not JSON treats this one alike)."""


def loads(data: str | bytes, **kw: Any) -> Any:
    """``json.loads`` that refuses nesting deeper than ``MAX_DEPTH`` with ``JsonTooDeep``."""
    opening = data.count(b"[" if isinstance(data, bytes) else "[") + \
        data.count(b"{" if isinstance(data, bytes) else "{")
    try:
        value = json.loads(data, **kw)
    except RecursionError as exc:
        raise JsonTooDeep("nested too deep") from exc
    if opening > MAX_DEPTH and depth_exceeds(value, MAX_DEPTH):  # brackets in strings count too: cheap bound
        raise JsonTooDeep("nested too deep")
    return value


def depth_exceeds(value: Any, limit: int) -> bool:
    """Is ``value`` nested deeper than ``limit`` containers? (Iterative: no recursion to run out of.)"""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON with the depth limit on reading (``request.get_json`` and friends)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s, **kwargs)
