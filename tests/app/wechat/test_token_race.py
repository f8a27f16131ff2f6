"""Two processes renew the token at once: WeChat is asked once (real commits, two threads).

Kept apart from the other WeChat tests: their autouse app context binds the database to one
connection, and these threads need connections of their own.
"""
from __future__ import annotations

import threading

import pytest

from app.clock import FrozenClock
from app.wechat.client import WechatApi
from app.wechat.config import WechatConfig
from tests.support.fake_wechat import APPID, SECRET, FakeWechat


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
    tokens: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def process() -> None:
        api = WechatApi(config, committed_db, clock)
        try:
            barrier.wait()
            with committed_db.transaction() as s:
                tokens.append(api.tokens.token(s))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=process) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    fake_wechat.token_delay = 0.0
    assert not errors
    assert len(tokens) == 2 and tokens[0] == tokens[1]
    assert fake_wechat.token_calls == [False]
