"""What the WeChat client raises."""
from __future__ import annotations


class WechatUnavailable(Exception):
    """No answer worth acting on now (timeout, -1, 5xx, circuit open, no token): retry later.

    The message is a short reason without personal data or credentials.
    """


class ForceRefreshLimited(WechatUnavailable):
    """A force refresh of the token would break WeChat's limit (20 a day, 30 s apart)."""


class NotConfigured(WechatUnavailable):
    """``WECHAT_APPID``/``WECHAT_SECRET`` are not set."""
