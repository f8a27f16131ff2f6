"""WeChat's content security API (version 2) behind the ``Moderator`` interface.

- Text: ``POST wxa/msg_sec_check`` ``{content, version: 2, scene, openid}`` →
  ``result.suggest`` pass | review | risky (with ``result.label``: 100 normal, 10001 ads,
  20001 politics, 20002 porn, 20003 abuse, 20006 crime, 20008 fraud, 20012 vulgar, 21000
  other). Long text is checked in pieces of 2,500 characters (WeChat's limit); the worst
  piece decides. The local keyword filter runs first: a hit never reaches WeChat.
- Photos: ``POST wxa/media_check_async`` ``{media_url, media_type: 2, version: 2, scene,
  openid}`` → ``trace_id``; the verdict arrives later at ``/api/v1/wechat/callback``
  (event ``wxa_media_check``). ``media_url`` is a signed URL of the photo valid for an hour,
  absolute through ``PUBLIC_BASE_URL`` (WeChat must be able to fetch it).

WeChat's checks need the author's openid (a WeChat account that used the mini-program in
the last 2 hours). Without one — a 随申办 account —, or when WeChat is unavailable or
answers an error, text keeps the keyword filter's verdict if it is a hit and otherwise waits
for staff (``review``); photos wait for staff. Nothing here blocks a resident on an outage.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from app.moderation.keywords import KeywordModerator
from app.moderation.verdicts import ModerationContext, Verdict
from app.storage.models import Upload
from app.storage.urls import signed_url
from app.upstream import errcode
from app.wechat.client import WechatApi
from app.wechat.errors import WechatUnavailable

CHUNK = 2500
MEDIA_URL_TTL = timedelta(hours=1)
MEDIA_TYPE_IMAGE = 2
LABELS = {
    100: "正常", 10001: "广告", 20001: "时政", 20002: "色情", 20003: "辱骂", 20006: "违法犯罪",
    20008: "欺诈", 20012: "低俗", 20013: "版权", 21000: "其他",
}
_RANK = {"pass": 0, "review": 1, "risky": 2}


def label_text(label: Any) -> str:
    try:
        return LABELS.get(int(label), str(label))
    except (TypeError, ValueError):
        return str(label)


def verdict_from_result(result: Any, provider: str = "wechat") -> Verdict:
    """A ``result`` object of msg_sec_check or of a media callback → Verdict."""
    result = result if isinstance(result, dict) else {}
    suggest = result.get("suggest")
    if suggest not in _RANK:
        return Verdict("review", reason="微信审核结果无法识别", provider=provider)
    label = result.get("label")
    reason = "" if suggest == "pass" else f"微信内容安全：{label_text(label)}"
    return Verdict(suggest, label=None if label is None else str(label), reason=reason, provider=provider)


class WechatModerator:
    name = "wechat"

    def __init__(self, api: WechatApi, keywords: KeywordModerator, session: Session | None = None) -> None:
        self.api = api
        self.keywords = keywords
        self.session = session  # the caller's: a token refresh on SQLite must join its write transaction

    def check_text(self, text: str, *, context: ModerationContext | None = None) -> Verdict:
        local = self.keywords.check_text(text)
        if local.suggest != "pass":
            return local
        if context is None or not context.openid:
            return Verdict("review", reason="无法调用微信内容安全（非微信用户），待人工审核", provider=self.name)
        worst: Verdict | None = None
        for start in range(0, len(text), CHUNK):
            body = {"content": text[start:start + CHUNK], "version": 2, "scene": context.scene,
                    "openid": context.openid}
            try:
                answer = self.api.call("wxa/msg_sec_check", body, session=self.session)
            except WechatUnavailable:
                return Verdict("review", reason="微信内容安全暂不可用，待人工审核", provider=self.name)
            if errcode(answer) != 0:
                return Verdict("review", reason=f"微信内容安全返回错误 {errcode(answer)}，待人工审核",
                               provider=self.name)
            verdict = verdict_from_result(answer.get("result"))
            if worst is None or _RANK[verdict.suggest] > _RANK[worst.suggest]:
                worst = verdict
            if worst.suggest == "risky":
                break
        return worst or Verdict("pass", provider=self.name)

    def check_media(self, upload: Upload, *, context: ModerationContext | None = None) -> Verdict:
        if context is None or not context.openid:
            return Verdict("review", reason="图片待人工审核（非微信用户）", provider=self.name)
        url = signed_url(upload, "full", clock=current_app.extensions["clock"], ttl=MEDIA_URL_TTL)
        if not url.startswith(("https://", "http://")):
            return Verdict("review", reason="图片待人工审核（未配置 PUBLIC_BASE_URL）", provider=self.name)
        body = {"media_url": url, "media_type": MEDIA_TYPE_IMAGE, "version": 2, "scene": context.scene,
                "openid": context.openid}
        try:
            answer = self.api.call("wxa/media_check_async", body, session=self.session)
        except WechatUnavailable:
            return Verdict("review", reason="微信内容安全暂不可用，待人工审核", provider=self.name)
        trace_id = answer.get("trace_id")
        if errcode(answer) != 0 or not isinstance(trace_id, str) or not trace_id:
            return Verdict("review", reason=f"微信内容安全返回错误 {errcode(answer)}，待人工审核", provider=self.name)
        return Verdict("pending", reason="等待微信图片审核结果", trace_id=trace_id[:128], provider=self.name)
