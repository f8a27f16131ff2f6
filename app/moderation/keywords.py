"""The local keyword filter: the default moderator.

Text and words are normalised alike: NFKC (full-width letters, digits and the ideographic
space become half-width), case folded, and whitespace, zero-width characters and filler
symbols (``* . - _ · | / \\ ~``, full-width ones included after NFKC) removed, so "赌 博",
"赌*博" and "ＦＵＣＫ" all match. A hit is ``risky`` (the item is rejected; staff see the
word in the reason). Photos cannot be read by a word list: they wait for staff (``review``).
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from app.moderation.verdicts import ModerationContext, Verdict
from app.storage.models import Upload

WORDS_FILE = Path(__file__).with_name("words.txt")
_REMOVE = re.compile(r"[\s\u200b-\u200f\u2060\ufeff*.\-_·|/\\~`'\"^+=,，。、!?！？:;：；()（）\[\]【】{}<>《》]+")


def normalise(text: str) -> str:
    return _REMOVE.sub("", unicodedata.normalize("NFKC", text).casefold())


def parse_words(lines: Iterable[str], default_category: str = "extra") -> dict[str, str]:
    """``{normalised word: category}`` from lines with ``[category]`` headers and ``#`` comments."""
    words: dict[str, str] = {}
    category = default_category
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            category = line[1:-1].strip() or default_category
            continue
        word = normalise(line)
        if word:
            words.setdefault(word, category)
    return words


@lru_cache(maxsize=8)
def _compiled(extra: str) -> tuple[re.Pattern[str] | None, dict[str, str]]:
    words = parse_words(WORDS_FILE.read_text(encoding="utf-8").splitlines())
    for word, category in parse_words(re.split(r"[,\n]", extra)).items():
        words.setdefault(word, category)
    if not words:
        return None, {}
    pattern = re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)))
    return pattern, words


class KeywordModerator:
    name = "keyword"

    def __init__(self, extra_words: str = "") -> None:
        self.pattern, self.words = _compiled(extra_words)

    def find(self, text: str) -> tuple[str, str] | None:
        """The first (word, category) found in ``text``, or None."""
        if self.pattern is None:
            return None
        match = self.pattern.search(normalise(text))
        return (match.group(0), self.words[match.group(0)]) if match else None

    def check_text(self, text: str, *, context: ModerationContext | None = None) -> Verdict:
        hit = self.find(text)
        if hit is None:
            return Verdict("pass", provider=self.name)
        word, category = hit
        return Verdict("risky", label=f"keyword:{category}", reason=f"命中关键词「{word}」", provider=self.name)

    def check_media(self, upload: Upload, *, context: ModerationContext | None = None) -> Verdict:
        return Verdict("review", reason="图片待人工审核", provider=self.name)


def keyword_moderator(settings: Any) -> KeywordModerator:
    return KeywordModerator(settings.get("MODERATION_EXTRA_WORDS") or "")
