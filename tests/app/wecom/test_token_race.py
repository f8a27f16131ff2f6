"""Two processes fetch WeCom's token at once: gettoken is asked once (real commits, two threads).

Kept apart from the other WeCom tests: their app context binds the database to one connection,
and these threads need connections of their own.
"""
from __future__ import annotations

import pytest

from app.clock import FrozenClock
from app.wecom.client import WecomApi
from app.wecom.config import WecomConfig
from tests.support.fake_wecom import AGENT_ID, CORP_ID, SECRET, FakeWecom
from tests.support.threads import at_once


@pytest.fixture(scope="module")
def fake_wecom():
    fake = FakeWecom().start()
    yield fake
    fake.stop()


def test_concurrent_fetches_ask_wecom_once(committed_db, fake_wecom: FakeWecom):
    """Two processes find no token at the same time: one asks WeCom, the other waits for its
    lock (PostgreSQL row lock; SQLite's writer lock) and takes the result from the row."""
    fake_wecom.token_delay = 0.3
    config = WecomConfig(base_url=fake_wecom.base_url, corp_id=CORP_ID, agent_id=AGENT_ID, secret=SECRET,
                         console_base_url="https://jsq.jinshan.example", timeout=2.0)
    clock = FrozenClock()

    def process() -> str:
        api = WecomApi(config, committed_db, clock)  # a process of its own: its own client and connection
        with committed_db.transaction() as s:
            return api.tokens.token(s)

    tokens = at_once(process, process)
    fake_wecom.token_delay = 0.0
    assert tokens[0] == tokens[1] == fake_wecom.current
    assert fake_wecom.token_calls == 1
