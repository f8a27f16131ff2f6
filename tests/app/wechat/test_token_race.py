"""Two processes renew the token at once: WeChat is asked once (real commits, two threads).

Kept apart from the other WeChat tests: their autouse app context binds the database to one
connection, and these threads need connections of their own.
"""
from __future__ import annotations

import pytest

from app.clock import FrozenClock
from app.wechat.client import WechatApi
from app.wechat.config import WechatConfig
from tests.support.fake_wechat import APPID, SECRET, FakeWechat
from tests.support.threads import at_once


@pytest.fixture(scope="module")
def fake_wechat():
    fake = FakeWechat().start()
    yield fake
    fake.stop()


def test_concurrent_refreshes_ask_wechat_once(committed_db, fake_wechat: FakeWechat):
    """Two processes find the token missing at the same time: one asks WeChat, the other
    waits for its lock (PostgreSQL row lock; SQLite's writer lock) and takes the result."""
    fake_wechat.token_delay = 0.3
    config = WechatConfig(base_url=fake_wechat.base_url, appid=APPID, secret=SECRET, timeout=2.0)
    clock = FrozenClock()

    def process() -> str:
        api = WechatApi(config, committed_db, clock)  # a process of its own: its own client and connection
        with committed_db.transaction() as s:
            return api.tokens.token(s)

    tokens = at_once(process, process)
    fake_wechat.token_delay = 0.0
    assert tokens[0] == tokens[1]
    assert fake_wechat.token_calls == [False]
