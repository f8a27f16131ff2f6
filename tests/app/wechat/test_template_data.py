"""WeChat's field limits: values are cut cleanly or refused."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.config import ConfigError
from app.notify.templates import DEFAULT_FILE, load_registry, parse_registry, wechat_kind
from app.wechat.template_data import TemplateDataError, build_data, build_page, clean_cut_index, cut, format_value


def test_thing_is_cut_to_20_characters_with_an_ellipsis():
    text = "金山区朱泾镇东林街道人民路一百二十三号门口的井盖破损严重"
    value = format_value("thing", text)
    assert len(value) == 20 and value == text[:19] + "…"
    assert format_value("thing", "短标题") == "短标题"
    assert format_value("thing", "x" * 20) == "x" * 20  # exactly at the limit: untouched
    assert format_value("thing", "换行\n\t和  空格") == "换行 和 空格"  # one line


@pytest.mark.parametrize("text,limit,expected", [
    ("abcdefghijklmnopqrs👨\u200d👩\u200d👧tail", 20, "abcdefghijklmnopqrs…"),  # family emoji not split
    ("abcdefghijklmnopq👨\u200d👩\u200d👧tail", 20, "abcdefghijklmnopq…"),
    ("abcdefghijklmnopqre\u0301xyz", 20, "abcdefghijklmnopqr…"),  # é as e + combining accent
    ("abcdefghijklmnopqr🇨🇳tail", 20, "abcdefghijklmnopqr…"),  # flags are pairs
    ("abcdefghijklmnopq🇨🇳🇨🇳tail", 20, "abcdefghijklmnopq🇨🇳…"),
    ("abcdefghijklmnop👍🏽xyz", 18, "abcdefghijklmnop…"),  # skin tone modifier stays with its hand
    ("abcdefghijklmnopqr❤\ufe0fxyz", 20, "abcdefghijklmnopqr…"),  # variation selector
])
def test_cut_never_splits_a_character(text, limit, expected):
    value = cut(text, limit)
    assert value == expected and len(value) <= limit


def test_clean_cut_index_keeps_whole_flags():
    flags = "🇨🇳🇫🇷🇩🇪"
    assert [clean_cut_index(flags, i) for i in range(7)] == [0, 0, 2, 2, 4, 4, 6]


@pytest.mark.parametrize("kind,value,expected", [
    ("number", 42, "42"), ("number", "3.50", "3.50"), ("character_string", "T-2026/11 编号0042", "T-2026/110042"),
    ("character_string", "A" * 40, "A" * 32), ("phrase", "已受理完成了", "已受理完成"), ("phrase", "办结 OK", "办结"),
    ("letter", "abc123", "abc"), ("symbol", "!!!!!!!", "!!!!!"), ("short_thing", "一二三四五六", "一二三四五"),
    ("car_number", "沪A12345XY", "沪A12345X"), ("name", "欧阳一二三四五六七八", "欧阳一二三四五六七八"),
    ("name", "欧阳一二三四五六七八九", "欧阳一二三四五六七…"),
    ("name", "Alexander Hamilton Jr.", "Alexander Hamilton…"),
    ("phone_number", "021-5792 1234", "021-5792 1234"), ("amount", 1250, "¥12.50"),
    ("date", "2026-11-02", "2026年11月2日"), ("time", "2026-11-02T01:05:00+00:00", "2026年11月2日 09:05"),
    ("time", datetime(2026, 12, 31, 16, 30, tzinfo=UTC), "2027年1月1日 00:30"),
])
def test_each_kind_within_its_rule(kind, value, expected):
    assert format_value(kind, value) == expected


@pytest.mark.parametrize("kind,value", [
    ("number", "12a"), ("number", "1" * 33), ("number", True), ("time", "tomorrow"), ("time", "2026-11-02T09:00"),
    ("amount", "12.50"), ("phone_number", "call me"), ("phrase", "OK"), ("thing", ""), ("thing", None),
    ("character_string", "编号"), ("date", "11/02/2026"), ("amount", 10**12),
])
def test_values_that_cannot_be_made_valid_are_refused(kind, value):
    with pytest.raises(TemplateDataError):
        format_value(kind, value)


def test_build_data_and_page_from_the_demo_registry():
    template = load_registry().get("ticket_acknowledged").wechat
    payload = {"ticket_id": "a b", "ticket_no": "T1", "title": "t", "at": "2026-11-02T09:00:00+08:00", "note": "n"}
    assert build_data(template, payload)["phrase3"] == {"value": "已受理"}
    assert build_page(template, payload) == "pages/tickets/detail?id=a%20b"
    with pytest.raises(TemplateDataError, match="page: payload has no ticket_id"):
        build_page(template, {})
    with pytest.raises(TemplateDataError, match="time4"):
        build_data(template, {**payload, "at": "soon"})


def test_registry_is_checked():
    assert wechat_kind("character_string12") == "character_string"
    assert load_registry(DEFAULT_FILE).get("ticket_resolved").wechat.template_id
    with pytest.raises(ConfigError, match="used twice"):
        parse_registry({"a": {"wechat": {"template_id": "x", "data": {"thing1": "t"}}},
                        "b": {"wechat": {"template_id": "x", "data": {"thing1": "t"}}}})
    with pytest.raises(ConfigError, match="kind"):
        parse_registry({"a": {"wechat": {"template_id": "x", "data": {"blob1": "t"}}}})
    with pytest.raises(ConfigError, match="payload key"):
        parse_registry({"a": {"wechat": {"template_id": "x", "data": {"thing1": 3}}}})
    with pytest.raises(ConfigError, match=r"sms\.template"):
        parse_registry({"a": {"sms": {"params": {}}}})
    with pytest.raises(ConfigError, match="cannot be read"):
        load_registry("/nonexistent/templates.json")
