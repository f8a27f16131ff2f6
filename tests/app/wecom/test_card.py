"""The text card: WeCom's byte limits cut on character boundaries, markup kept whole, the link,
and the ``wecom`` section of the template registry."""
from __future__ import annotations

import html

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.config import ConfigError
from app.notify.templates import (
    DEFAULT_FILE,
    DEFAULT_WECOM_LINES,
    WecomLine,
    WecomTemplate,
    load_registry,
    parse_registry,
)
from app.wecom.card import DESCRIPTION_MAX_BYTES, NO_DETAILS, TITLE_MAX_BYTES, build_card, cut_bytes, describe, link
from app.wecom.config import WecomConfig

CONSOLE = "https://jsq.jinshan.example"
FAMILY = "👩\u200d👩\u200d👧"  # one ZWJ sequence: 18 bytes
FLAG = "🇨🇳"  # two regional indicators: 8 bytes


def nbytes(text: str) -> int:
    return len(text.encode())


# ---------------------------------------------------------------- cutting


def test_short_text_is_kept_whole():
    assert cut_bytes("工单T1", 128) == "工单T1"
    assert cut_bytes("a" * 128, 128) == "a" * 128  # exactly the limit: no ellipsis


def test_cut_counts_bytes_not_characters():
    cut = cut_bytes("汉" * 100, 128)  # 300 bytes
    assert cut == "汉" * 41 + "…" and nbytes(cut) == 126
    assert cut_bytes("a" * 200, 128) == "a" * 125 + "…"


@pytest.mark.parametrize("unit, size", [(FAMILY, 18), (FLAG, 8), ("e\u0301", 3)])
def test_a_cut_never_splits_a_character(unit, size):
    text = "x" + unit * 20
    for limit in range(4, 60):
        cut = cut_bytes(text, limit)
        assert nbytes(cut) <= limit
        body = cut.removesuffix("…")
        assert body == "x" + unit * ((len(body) - 1) // len(unit))  # whole units only


def test_an_escaped_entity_is_never_split():
    assert cut_bytes("<&>", 100, escape=True) == "&lt;&amp;&gt;"
    assert cut_bytes("&&&&", 10, escape=True) == "&amp;…"  # not "&amp;&am…"
    assert cut_bytes("&&&&", 7, escape=True) == ""  # not even one entity and the ellipsis


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=0, max_size=300), st.integers(min_value=0, max_value=600), st.booleans())
def test_any_cut_fits_and_is_a_prefix(text, limit, escape):
    cut = cut_bytes(text, limit, escape=escape)
    assert nbytes(cut) <= limit
    whole = html.escape(text, quote=False) if escape else text
    if cut != whole:
        body = cut.removesuffix("…")
        assert cut.endswith("…") or cut == ""
        assert text.startswith(html.unescape(body) if escape else body)


# ---------------------------------------------------------------- description and link

CARD = WecomTemplate(title="新工单提醒", lines=(WecomLine("工单编号", "ticket_no"), WecomLine("进展", "note"),
                                                WecomLine("时间", "at", "time")))


def test_lines_without_a_value_are_left_out():
    assert describe(CARD, {"ticket_no": "T1", "note": "", "at": None}) == '<div class="normal">工单编号：T1</div>'
    assert describe(CARD, {"note": {"nested": 1}}) == NO_DETAILS


def test_values_are_one_line_and_escaped_and_times_in_beijing():
    text = describe(CARD, {"ticket_no": "T1", "note": "a\n<b>\tc\x07", "at": "2026-11-02T16:05:00+00:00"})
    assert text == ('<div class="normal">工单编号：T1</div><div class="normal">进展：a &lt;b&gt; c</div>'
                    '<div class="gray">时间：2026年11月3日 00:05</div>')
    assert describe(CARD, {"at": "昨天"}) == '<div class="gray">时间：昨天</div>'  # not a time: as given


def test_a_long_line_is_cut_and_the_rest_dropped():
    text = describe(CARD, {"ticket_no": "T1", "note": "漏水" * 300, "at": "2026-11-02T16:05:00+00:00"})
    assert nbytes(text) <= DESCRIPTION_MAX_BYTES and nbytes(text) > DESCRIPTION_MAX_BYTES - 3
    assert text.endswith("…</div>") and "时间" not in text


def test_many_short_lines_stop_at_a_whole_line():
    lines = tuple(WecomLine(f"第{i}项", f"k{i}") for i in range(40))
    text = describe(WecomTemplate("t", lines), {f"k{i}": "值" * 5 for i in range(40)})
    assert nbytes(text) <= DESCRIPTION_MAX_BYTES and text.endswith("</div>")
    assert text.count("<div") == text.count("</div>")


def test_link_to_the_ticket_or_the_console():
    assert link(CONSOLE, {"ticket_id": 42, "scenario": "property_repair"}) == f"{CONSOLE}/console/tickets/42"
    assert link(CONSOLE, {"ticket_id": 42}) == f"{CONSOLE}/console/"
    assert link(CONSOLE, {"scenario": "x"}) == f"{CONSOLE}/console/"
    assert link(CONSOLE, {"ticket_id": "1/../admin", "scenario": "x"}) == f"{CONSOLE}/console/tickets/1%2F..%2Fadmin"


def test_title_is_cut_to_128_bytes():
    card = build_card(WecomTemplate("督办" * 100, ()), {}, console_base_url=CONSOLE)
    assert nbytes(card.title) <= TITLE_MAX_BYTES and card.title.endswith("…")
    assert card.description == NO_DETAILS and card.textcard()["btntxt"] == "详情"


def test_console_url_trailing_slash_is_dropped():
    config = WecomConfig.from_settings({"CONSOLE_BASE_URL": CONSOLE + "/"})
    assert config.console_base_url == CONSOLE and config.missing == ["WECOM_CORP_ID", "WECOM_AGENT_ID",
                                                                     "WECOM_SECRET"]


# ---------------------------------------------------------------- the registry's wecom section


def test_every_template_of_the_demo_file_makes_a_card_within_limits():
    payload = {"ticket_id": 1, "scenario": "property_repair", "ticket_no": "T20261102-0001", "title": "物业百事通",
               "note": "有新的工单待处理", "level": 2, "at": "2026-11-02T09:00:00+08:00",
               "name": "张三", "place": "金山区测试路 1 号"}
    for template in load_registry(DEFAULT_FILE).by_name.values():
        card = build_card(template.wecom_card(), payload, console_base_url=CONSOLE)
        assert nbytes(card.title) <= TITLE_MAX_BYTES and nbytes(card.description) <= DESCRIPTION_MAX_BYTES
        assert "T20261102-0001" in card.description
        assert "张三" not in card.description and "测试路" not in card.description  # no personal data


def test_a_template_without_wecom_has_the_generic_card_under_its_title():
    template = parse_registry({"a": {"title": "标题"}}).get("a")
    assert template.wecom is None
    assert template.wecom_card() == WecomTemplate(title="标题", lines=DEFAULT_WECOM_LINES)


def test_wecom_section_parsed():
    template = parse_registry({"a": {"title": "标题", "wecom": {"lines": [["编号", "ticket_no"],
                                                                         ["时间", "at", "time"]]}}}).get("a")
    assert template.wecom == WecomTemplate(title="标题", lines=(WecomLine("编号", "ticket_no"),
                                                                 WecomLine("时间", "at", "time")))
    assert parse_registry({"a": {"wecom": {"title": " 卡片 ", "lines": [["x", "y"]]}}}).get("a").wecom.title == "卡片"


@pytest.mark.parametrize("wecom", [
    [], {"lines": []}, {"lines": "ticket_no"}, {"lines": [["编号"]]}, {"lines": [["编号", ""]]},
    {"lines": [["编号", "ticket_no", "date"]]}, {"lines": [["编号", 3]]}, {"title": "", "lines": [["a", "b"]]},
    {"title": 5, "lines": [["a", "b"]]},
])
def test_a_bad_wecom_section_is_a_config_error(wecom):
    with pytest.raises(ConfigError, match="wecom"):
        parse_registry({"a": {"title": "t", "wecom": wecom}})
