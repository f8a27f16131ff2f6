"""Notification templates are configuration: our names → WeChat, SMS and WeCom messages.

A JSON object (``app/notify/templates.json`` holds demo defaults; ``NOTIFY_TEMPLATES_FILE``
names a replacement) maps each of our template names (``ticket_acknowledged``…) to:

- ``title``: what the mini-program shows when it asks for the subscription;
- ``wechat`` (optional): ``template_id`` (WeChat's id of the subscription template),
  ``page`` (the mini-program page opened from the message; ``{payload_key}`` placeholders),
  ``data``: WeChat key → payload key, or ``{"value": "constant"}``. A key's kind is its name
  without the trailing digits (``thing1`` is a ``thing``), which decides its limits;
- ``sms`` (optional): ``template`` (the SMS provider's template code) and ``params``:
  SMS parameter → payload key;
- ``wecom`` (optional): the staff's 企业微信 text card: ``title`` (default: the template's
  ``title``) and ``lines``, each ``[label, payload key]`` or ``[label, payload key, "time"]``
  (an ISO 8601 time shown in Beijing time); a line whose key the payload lacks is left out.
  Without it a template's card has ``DEFAULT_WECOM_LINES``. Lines name payload keys of
  notices (ticket numbers, scenario titles, fixed phrases), never personal data.

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
class WecomLine:
    label: str
    key: str  # a payload key
    kind: str = "text"  # text | time


@dataclass(frozen=True)
class WecomTemplate:
    title: str
    lines: tuple[WecomLine, ...]


WECOM_LINE_KINDS = ("text", "time")
# The card of a template without a ``wecom`` section: what workflow notices carry.
DEFAULT_WECOM_LINES = (
    WecomLine("工单编号", "ticket_no"),
    WecomLine("业务", "title"),
    WecomLine("进展", "note"),
    WecomLine("督办级别", "level"),
    WecomLine("时间", "at", "time"),
)


@dataclass(frozen=True)
class NotificationTemplate:
    name: str
    title: str
    wechat: WechatTemplate | None
    sms: SmsTemplate | None
    wecom: WecomTemplate | None = None
    optional: bool = False
    """A courtesy (a reminder) rather than news of the person's matter: not sent to a person who
    withdrew the ``service_notices`` consent (``app.notify.service.deliver``)."""

    def wecom_card(self) -> WecomTemplate:
        """The template's WeCom card, or the generic one under its title."""
        return self.wecom or WecomTemplate(title=self.title, lines=DEFAULT_WECOM_LINES)


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


def _wecom(name: str, spec: Any, title: str) -> WecomTemplate:
    if not isinstance(spec, dict):
        raise ConfigError(f"template {name!r}: wecom must be an object")
    card_title = spec.get("title", title)
    if not isinstance(card_title, str) or not card_title.strip():
        raise ConfigError(f"template {name!r}: wecom.title must be a non-empty string")
    lines = spec.get("lines")
    if not isinstance(lines, list) or not lines:
        raise ConfigError(f"template {name!r}: wecom.lines is required ([label, payload key] each)")
    parsed = []
    for line in lines:
        if (not isinstance(line, list) or len(line) not in (2, 3)
                or not all(isinstance(part, str) and part for part in line)
                or (len(line) == 3 and line[2] not in WECOM_LINE_KINDS)):
            raise ConfigError(f"template {name!r}: a wecom line is [label, payload key] or "
                              f"[label, payload key, kind] (kinds: {', '.join(WECOM_LINE_KINDS)})")
        parsed.append(WecomLine(*line))
    return WecomTemplate(title=card_title.strip(), lines=tuple(parsed))


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
    title = str(spec.get("title") or name)
    wecom = _wecom(name, spec["wecom"], title) if "wecom" in spec else None
    optional = spec.get("optional", False)
    if not isinstance(optional, bool):
        raise ConfigError(f"template {name!r}: optional must be true or false")
    return NotificationTemplate(name=name, title=title, wechat=wechat, sms=sms, wecom=wecom, optional=optional)


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
