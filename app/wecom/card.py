"""The text card (``textcard``) of a WeCom application message, within WeCom's limits.

WeCom's documented limits are in UTF-8 bytes: a title of at most 128, a description of at
most 512 (WeCom would truncate blindly, possibly inside a character or a tag). Here:

- the title is the template's WeCom title (``templates.json``; default its ``title``), one
  line, cut on a character boundary with ``…`` (``app.wechat.template_data``'s rules: never
  inside a character, a combining sequence, a ZWJ sequence or a flag);
- the description is one ``<div>`` per line of the template (WeCom's documented markup: the
  ``gray`` class for the time, ``normal`` for the rest), ``label：value``, values cleaned to one
  line and HTML-escaped. Lines whose payload key is missing or empty are left out. When the
  512 bytes run out, the line that no longer fits is cut (its markup kept whole) and the
  lines after it are dropped;
- the link is ``{CONSOLE_BASE_URL}/console/tickets/{ticket_id}`` when the payload names a
  ticket (``ticket_id`` and ``scenario``), else ``{CONSOLE_BASE_URL}/console/``.

Only payload keys named by the template reach a card: notices carry ticket numbers, the
scenario's title and fixed phrases, never names or phones.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from app.notify.templates import WecomLine, WecomTemplate
from app.wechat.template_data import ELLIPSIS, TemplateDataError, clean_cut_index, clean_text, format_value

TITLE_MAX_BYTES = 128
DESCRIPTION_MAX_BYTES = 512
BUTTON_TEXT = "详情"
NO_DETAILS = "请在工作台查看详情"
_ELLIPSIS_BYTES = len(ELLIPSIS.encode())


@dataclass(frozen=True)
class Card:
    title: str
    description: str
    url: str

    def textcard(self) -> dict[str, str]:
        return {"title": self.title, "description": self.description, "url": self.url, "btntxt": BUTTON_TEXT}


def byte_len(text: str) -> int:
    return len(text.encode())


def _escape(text: str) -> str:
    return html.escape(text, quote=False)


def cut_bytes(text: str, limit: int, *, escape: bool = False) -> str:
    """``text`` in at most ``limit`` UTF-8 bytes (HTML-escaped when ``escape``, an entity never
    split), cut on a character boundary with ``…``; ``""`` when not even one character and
    ``…`` fit."""
    measure = _escape if escape else str
    if byte_len(measure(text)) <= limit:
        return measure(text)
    room = limit - _ELLIPSIS_BYTES
    end = used = 0
    while end < len(text) and used + byte_len(measure(text[end])) <= room:
        used += byte_len(measure(text[end]))
        end += 1
    head = text[:clean_cut_index(text, end)].rstrip()
    return measure(head) + ELLIPSIS if head else ""


def _value(line: WecomLine, payload: dict[str, Any]) -> str:
    raw = payload.get(line.key)
    if raw is None or raw == "" or isinstance(raw, (dict, list)):
        return ""
    if line.kind == "time":
        try:
            return format_value("time", raw)
        except TemplateDataError:
            pass  # not a time with an offset: shown as given
    return clean_text(str(raw))


def describe(template: WecomTemplate, payload: dict[str, Any]) -> str:
    parts: list[str] = []
    used = 0
    for line in template.lines:
        value = _value(line, payload)
        if not value:
            continue
        css = "gray" if line.kind == "time" else "normal"
        head, tail = f'<div class="{css}">{_escape(clean_text(line.label))}：', "</div>"
        room = DESCRIPTION_MAX_BYTES - used - byte_len(head) - byte_len(tail)
        whole = _escape(value)
        text = whole if byte_len(whole) <= room else cut_bytes(value, room, escape=True)
        if text:
            parts.append(head + text + tail)
            used += byte_len(parts[-1])
        if text != whole:
            break  # this line was cut (or left out): the lines after it do not fit
    return "".join(parts) or NO_DETAILS


def link(console_base_url: str, payload: dict[str, Any]) -> str:
    ticket_id = payload.get("ticket_id")
    if ticket_id not in (None, "") and payload.get("scenario"):
        return f"{console_base_url}/console/tickets/{quote(str(ticket_id), safe='')}"
    return f"{console_base_url}/console/"


def build_card(template: WecomTemplate, payload: dict[str, Any], *, console_base_url: str) -> Card:
    title = cut_bytes(clean_text(template.title), TITLE_MAX_BYTES) or ELLIPSIS
    return Card(title=title, description=describe(template, payload), url=link(console_base_url, payload))
