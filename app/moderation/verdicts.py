"""What a moderator answers, and the interface every moderator implements."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from app.storage.models import Upload

SUGGESTIONS = ("pass", "review", "risky", "pending")

# WeChat's scenes (msg_sec_check / media_check_async version 2).
SCENE_PROFILE, SCENE_COMMENT, SCENE_FORUM, SCENE_SOCIAL_LOG = 1, 2, 3, 4


@dataclass(frozen=True)
class Verdict:
    """``pass`` → cleared, ``risky`` → rejected, ``review`` → staff decide, ``pending`` → an
    asynchronous check will answer (``trace_id``), staff may decide meanwhile."""

    suggest: str
    label: str | None = None
    reason: str = ""
    trace_id: str | None = None
    provider: str = "keyword"


@dataclass(frozen=True)
class ModerationContext:
    """Who wrote it (WeChat's v2 checks need the author's openid) and in what scene."""

    account_id: int | None = None
    openid: str | None = None
    scene: int = SCENE_FORUM


class Moderator(Protocol):
    name: str

    def check_text(self, text: str, *, context: ModerationContext | None = None) -> Verdict: ...

    def check_media(self, upload: Upload, *, context: ModerationContext | None = None) -> Verdict: ...
