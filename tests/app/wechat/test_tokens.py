"""The access token: shared through the database, renewed before expiry, recovered after
40001/42001 (normal mode first, then a force refresh), and the force-refresh budget."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.clock import FrozenClock
from app.wechat.client import WechatApi, wechat_api
from app.wechat.config import WechatConfig
from app.wechat.errors import ForceRefreshLimited, NotConfigured, WechatUnavailable
from app.wechat.models import WechatAccessToken
from tests.support.fake_wechat import APPID, FakeWechat

# For every test: an app context for the factories, and rate-limit counters reset before and after.
pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")

CHECK = "wxa/msg_sec_check"
BODY = {"content": "你好", "version": 2, "scene": 3, "openid": "o-test"}


def two_processes(app, db, clock) -> tuple[WechatApi, WechatApi]:
    """Two clients as two processes would have them: nothing shared but the database."""
    config = WechatConfig.from_settings(app.extensions["settings"])
    return WechatApi(config, db, clock), WechatApi(config, db, clock)


def stored(session) -> WechatAccessToken:
    return session.scalars(sa.select(WechatAccessToken).where(WechatAccessToken.appid == APPID),
                           execution_options={"populate_existing": True}).one()


def test_token_fetched_once_and_shared_by_two_processes(app, db, session, clock, wechat: FakeWechat):
    a, b = two_processes(app, db, clock)
    assert a.call(CHECK, BODY, session=session)["errcode"] == 0
    assert b.call(CHECK, BODY, session=session)["errcode"] == 0
    assert wechat.token_calls == [False]
    (_, first), (_, second) = wechat.api_calls
    assert first == second == stored(session).access_token
    # without a session (a read transaction of its own) the same token is used
    assert b.call(CHECK, BODY)["errcode"] == 0 and wechat.token_calls == [False]


def test_token_refreshed_before_expiry(app, db, session, clock: FrozenClock, wechat: FakeWechat):
    a, b = two_processes(app, db, clock)
    a.call(CHECK, BODY, session=session)
    row = stored(session)
    assert row.expires_at == clock.now() + timedelta(seconds=7200)
    old = row.access_token
    clock.advance(seconds=7200 - 301)  # more than 5 minutes left: used as is
    b.call(CHECK, BODY, session=session)
    assert wechat.token_calls == [False]
    clock.advance(seconds=1)  # 5 minutes left: renewed before use, in normal mode
    wechat.rotate_on_normal = True  # what stable_token does in a token's last 5 minutes
    b.call(CHECK, BODY, session=session)
    assert wechat.token_calls == [False, False]
    new = stored(session).access_token
    assert new != old and wechat.api_calls[-1] == ("/wxa/msg_sec_check", new)
    a.call(CHECK, BODY, session=session)  # the other process uses the renewed token
    assert wechat.token_calls == [False, False] and wechat.api_calls[-1][1] == new


def test_40001_fetches_again_in_normal_mode_first(app, session, clock, wechat: FakeWechat):
    api = wechat_api(app)
    api.call(CHECK, BODY, session=session)
    wechat.revoke_current(rotate=True)  # someone else renewed it: normal mode returns the new one
    assert api.call(CHECK, BODY, session=session)["errcode"] == 0
    assert wechat.token_calls == [False, False]
    assert stored(session).force_count == 0


def test_40001_then_force_refresh_when_normal_mode_returns_the_same(app, session, clock, wechat: FakeWechat):
    api = wechat_api(app)
    api.call(CHECK, BODY, session=session)
    wechat.revoke_current(rotate=False)  # normal mode keeps returning the dead token
    assert api.call(CHECK, BODY, session=session)["errcode"] == 0
    assert wechat.token_calls == [False, False, True]
    row = stored(session)
    assert row.force_count == 1 and row.last_force_at == clock.now() and row.access_token == wechat.current


def test_42001_expired_token_recovers_in_normal_mode(app, session, clock, wechat: FakeWechat):
    api = wechat_api(app)
    api.call(CHECK, BODY, session=session)
    wechat.expire_current()
    assert api.call(CHECK, BODY, session=session)["errcode"] == 0
    assert wechat.token_calls == [False, False]


def test_force_refresh_limit_30_seconds_apart_and_20_a_day(app, session, clock: FrozenClock, wechat: FakeWechat):
    api = wechat_api(app)
    api.call(CHECK, BODY, session=session)
    wechat.revoke_current()
    api.call(CHECK, BODY, session=session)  # one force
    clock.advance(seconds=10)
    wechat.revoke_current()
    with pytest.raises(ForceRefreshLimited):
        api.call(CHECK, BODY, session=session)
    assert wechat.token_calls.count(True) == 1
    clock.advance(seconds=20)  # 30 s after the last one
    assert api.call(CHECK, BODY, session=session)["errcode"] == 0
    assert wechat.token_calls.count(True) == 2
    row = stored(session)
    row.force_count = 20
    session.flush()
    clock.advance(minutes=5)
    wechat.revoke_current()
    with pytest.raises(ForceRefreshLimited, match="20 a day"):
        api.call(CHECK, BODY, session=session)
    assert wechat.token_calls.count(True) == 2
    # the budget is per Beijing day: 2026-11-02 01:05 UTC is 09:05 in Beijing; next midnight is 16:00 UTC
    clock.set(clock.now().replace(hour=16, minute=0, second=1))
    assert api.call(CHECK, BODY, session=session)["errcode"] == 0
    row = stored(session)
    assert wechat.token_calls.count(True) == 3 and row.force_count == 1 and row.force_day == "2026-11-03"


def test_force_attempt_counts_even_when_its_answer_is_lost(app, session, clock, wechat: FakeWechat):
    api = wechat_api(app)
    api.call(CHECK, BODY, session=session)
    wechat.revoke_current()
    wechat.force_delay = 0.5  # WeChat forces a new token, but its answer comes after our timeout
    with pytest.raises(WechatUnavailable, match=r"TimeoutError|timeout"):
        api.call(CHECK, BODY, session=session)
    wechat.force_delay = 0.0
    assert wechat.token_calls == [False, False, True]
    row = stored(session)
    assert row.force_count == 1 and row.last_force_at == clock.now()
    clock.advance(seconds=5)  # the next force waits its 30 s
    with pytest.raises(ForceRefreshLimited):
        api.call(CHECK, BODY, session=session)


def test_outage_opens_the_breaker_and_it_half_opens(app, session, clock: FrozenClock, wechat: FakeWechat):
    api = wechat_api(app)
    api.call(CHECK, BODY, session=session)
    wechat.outage = True
    for _ in range(5):
        with pytest.raises(WechatUnavailable, match="busy"):
            api.call(CHECK, BODY, session=session)
    calls = len(wechat.api_calls)
    with pytest.raises(WechatUnavailable, match="circuit open"):
        api.call(CHECK, BODY, session=session)
    assert len(wechat.api_calls) == calls  # failing fast: WeChat not asked
    wechat.outage = False
    clock.advance(seconds=30)
    assert api.call(CHECK, BODY, session=session)["errcode"] == 0
    assert not api.breaker.is_open


def test_not_configured(app, session, settings_override, wechat):
    settings_override(WECHAT_SECRET="")
    with pytest.raises(NotConfigured):
        wechat_api(app).call(CHECK, BODY, session=session)
    assert wechat.token_calls == []


def test_a_process_holding_a_replaced_token_takes_the_new_one_from_the_database(app, db, session, clock,
                                                                                wechat: FakeWechat):
    a, b = two_processes(app, db, clock)
    a.call(CHECK, BODY, session=session)
    b.call(CHECK, BODY, session=session)  # both hold the token in memory
    wechat.revoke_current()
    b.call(CHECK, BODY, session=session)  # b recovers: normal mode, then a force refresh
    assert wechat.token_calls == [False, False, True]
    assert a.call(CHECK, BODY, session=session)["errcode"] == 0  # a: 40001, then the row has b's token
    assert wechat.token_calls == [False, False, True]  # WeChat not asked again
    assert wechat.api_calls[-2][1] != wechat.api_calls[-1][1] == stored(session).access_token
