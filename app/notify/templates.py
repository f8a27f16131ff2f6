"""Notification templates are configuration: our names → WeChat and SMS templates.

A JSON object (``app/notify/templates.json`` holds demo defaults; ``NOTIFY_TEMPLATES_FILE``
names a replacement) maps each of our template names (``ticket_acknowledged``…) to:

- ``title``: what the mini-program shows when it asks for the subscription;
- ``wechat`` (optional): ``template_id`` (WeChat's id of the subscription template),
  ``page`` (the mini-program page opened from the message; ``{payload_key}`` placeholders),
  ``data``: WeChat key → payload key, or ``{"value": "constant"}``. A key's kind is its name
  without the trailing digits (``thing1`` is a ``thing``), which decides its limits;
- ``sms`` (optional): ``template`` (the SMS provider's template code) and ``params``:
  SMS parameter → payload key.

Keys starting with ``_`` are comments. The registry is checked when loaded: a WeChat id used
twice, an unknown kind of key or a missing field is a ``ConfigError``.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.config import ConfigError

DEFAULT_FILE = Path(__file__).with_name("templates.json")
KIND_RE = re.compile(r"^([a-z_]+?)(\d+)$")
WECHAT_KINDS = frozenset({
    "thing", "short_thing", "number", "letter", "symbol", "character_string", "time", "date", "amount",
    "phone_number", "car_number", "name", "phrase",
})


@dataclass(frozen=True)
class FieldSource:
    key: str | None = None  # a payload key
    value: str | None = None  # or a constant


@dataclass(frozen=True)
class WechatTemplate:
    template_id: str
    page: str
    data: tuple[tuple[str, FieldSource], ...]


@dataclass(frozen=True)
class SmsTemplate:
    template: str
    params: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class NotificationTemplate:
    name: str
    title: str
    wechat: WechatTemplate | None
    sms: SmsTemplate | None


class TemplateRegistry:
    def __init__(self, templates: dict[str, NotificationTemplate]) -> None:
        self.by_name = templates
        self.by_wechat_id: dict[str, NotificationTemplate] = {}
        for t in templates.values():
            if t.wechat is None:
                continue
            if t.wechat.template_id in self.by_wechat_id:
                raise ConfigError(f"WeChat template id {t.wechat.template_id!r} is used twice")
            self.by_wechat_id[t.wechat.template_id] = t

    def get(self, name: str) -> NotificationTemplate | None:
        return self.by_name.get(name)

    def wechat_templates(self) -> list[NotificationTemplate]:
        return [t for t in self.by_name.values() if t.wechat is not None]


def wechat_kind(key: str) -> str:
    match = KIND_RE.match(key)
    if not match or match.group(1) not in WECHAT_KINDS:
        raise ConfigError(f"WeChat data key {key!r}: expected a kind ({', '.join(sorted(WECHAT_KINDS))}) and digits")
    return match.group(1)


def _source(name: str, key: str, spec: Any) -> FieldSource:
    if isinstance(spec, str) and spec:
        return FieldSource(key=spec)
    if isinstance(spec, dict) and isinstance(spec.get("value"), str) and spec["value"]:
        return FieldSource(value=spec["value"])
    raise ConfigError(f"template {name!r}: {key} must name a payload key or be {{\"value\": \"...\"}}")


def _parse(name: str, spec: Any) -> NotificationTemplate:
    if not isinstance(spec, dict):
        raise ConfigError(f"template {name!r} must be an object")
    wechat = sms = None
    if "wechat" in spec:
        w = spec["wechat"]
        if not isinstance(w, dict) or not isinstance(w.get("template_id"), str) or not w["template_id"]:
            raise ConfigError(f"template {name!r}: wechat.template_id is required")
        if len(w["template_id"]) > 64:
            raise ConfigError(f"template {name!r}: wechat.template_id is too long")
        data = w.get("data")
        if not isinstance(data, dict) or not data:
            raise ConfigError(f"template {name!r}: wechat.data is required")
        for key in data:
            wechat_kind(key)
        wechat = WechatTemplate(template_id=w["template_id"], page=str(w.get("page") or ""),
                                data=tuple((k, _source(name, k, v)) for k, v in data.items()))
    if "sms" in spec:
        s = spec["sms"]
        if not isinstance(s, dict) or not isinstance(s.get("template"), str) or not s["template"]:
            raise ConfigError(f"template {name!r}: sms.template is required")
        params = s.get("params") or {}
        if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
            raise ConfigError(f"template {name!r}: sms.params maps parameter names to payload keys")
        sms = SmsTemplate(template=s["template"], params=tuple(params.items()))
    return NotificationTemplate(name=name, title=str(spec.get("title") or name), wechat=wechat, sms=sms)


def parse_registry(raw: dict[str, Any]) -> TemplateRegistry:
    if not isinstance(raw, dict):
        raise ConfigError("the templates file must hold a JSON object")
    return TemplateRegistry({name: _parse(name, spec) for name, spec in raw.items() if not name.startswith("_")})


_cache: dict[tuple[str, float], TemplateRegistry] = {}


def load_registry(path: str | Path | None = None) -> TemplateRegistry:
    """The registry in ``path`` (default: the demo file), cached until the file changes."""
    file = Path(path) if path else DEFAULT_FILE
    try:
        key = (str(file), file.stat().st_mtime)
    except OSError as exc:
        raise ConfigError(f"NOTIFY_TEMPLATES_FILE {file} cannot be read") from exc
    registry = _cache.get(key)
    if registry is None:
        try:
            raw = json.loads(file.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ConfigError(f"{file} is not valid JSON: {exc}") from exc
        registry = _cache[key] = parse_registry(raw)
    return registry


def registry_for(settings: Any) -> TemplateRegistry:
    return load_registry(settings.get("NOTIFY_TEMPLATES_FILE"))


def current_registry() -> TemplateRegistry:
    from flask import current_app

    return registry_for(current_app.extensions["settings"])
