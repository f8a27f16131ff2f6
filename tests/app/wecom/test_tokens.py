"""WeCom's access token: one row shared by every process (``app.wechat.tokens.TokenStore``, keyed
``wecom:<corpid>:<agentid>``), renewed before expiry, fetched again once when rejected."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.clock import FrozenClock
from app.wechat.models import WechatAccessToken
from app.wecom.client import WecomApi, wecom_api
from app.wecom.config import WecomConfig
from app.wecom.errors import WecomUnavailable
from tests.support.fake_wecom import AGENT_ID, CORP_ID, FakeWecom

pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")

KEY = f"wecom:{CORP_ID}:{AGENT_ID}"


def body(userid: str = "zhang.san") -> dict:
    return {"touser": userid, "msgtype": "textcard", "agentid": AGENT_ID,
            "textcard": {"title": "t", "description": "d", "url": "https://jsq.jinshan.example/console/",
                         "btntxt": "详情"}}


def two_processes(app, db, clock) -> tuple[WecomApi, WecomApi]:
    """Two clients as two processes would have them: nothing shared but the database."""
    config = WecomConfig.from_settings(app.extensions["settings"])
    return WecomApi(config, db, clock), WecomApi(config, db, clock)


def stored(session) -> WechatAccessToken:
    return session.scalars(sa.select(WechatAccessToken).where(WechatAccessToken.appid == KEY),
                           execution_options={"populate_existing": True}).one()


@pytest.fixture
def user(wecom: FakeWecom) -> str:
    wecom.add_user("zhang.san")
    return "zhang.san"


def test_token_fetched_once_and_shared_by_two_processes(app, db, session, clock, wecom: FakeWecom, user):
    a, b = two_processes(app, db, clock)
    assert a.send(body(), session=session)["errcode"] == 0
    assert b.send(body(), session=session)["errcode"] == 0
    assert b.send(body())["errcode"] == 0  # without a session (a read transaction of its own) too
    assert wecom.token_calls == 1
    row = stored(session)
    assert {token for _, token in wecom.api_calls} == {row.access_token}
    assert row.expires_at == clock.now() + timedelta(seconds=7200) and row.force_count == 0


def test_the_key_names_corp_and_application(app, db, session, clock, wecom: FakeWecom, user, settings_override):
    """Two applications of one corp have two tokens (WeCom: each application's token is its own)."""
    a = wecom_api(app)
    a.send(body(), session=session)
    settings_override(WECOM_AGENT_ID="1000003")
    other = wecom_api(app)
    assert other is not a and other.tokens.appid == f"wecom:{CORP_ID}:1000003"
    other.tokens.token(session)  # no row under its key yet: gettoken
    assert wecom.token_calls == 2
    keys = set(session.scalars(sa.select(WechatAccessToken.appid).where(WechatAccessToken.appid.like("wecom:%"))))
    assert keys == {KEY, f"wecom:{CORP_ID}:1000003"}


def test_token_renewed_before_expiry(app, db, session, clock: FrozenClock, wecom: FakeWecom, user):
    a, b = two_processes(app, db, clock)
    a.send(body(), session=session)
    old = stored(session).access_token
    clock.advance(seconds=7200 - 301)  # more than 5 minutes left: used as is
    b.send(body(), session=session)
    assert wecom.token_calls == 1
    clock.advance(seconds=1)  # 5 minutes left: gettoken asked again before use
    wecom.expire_current()  # (the fake hands back the current token while it is valid)
    b.send(body(), session=session)
    assert wecom.token_calls == 2
    new = stored(session).access_token
    assert new != old and wecom.api_calls[-1] == ("/cgi-bin/message/send", new)
    a.send(body(), session=session)  # the other process takes the renewed token from the row
    assert wecom.token_calls == 2 and wecom.api_calls[-1][1] == new


def test_a_process_holding_a_replaced_token_takes_the_new_one_from_the_database(app, db, session, clock,
                                                                                wecom: FakeWecom, user):
    a, b = two_processes(app, db, clock)
    a.send(body(), session=session)
    b.send(body(), session=session)  # both hold the token in memory
    wecom.revoke_current()
    assert b.send(body(), session=session)["errcode"] == 0  # b: 40014, gettoken, resent
    assert wecom.token_calls == 2
    assert a.send(body(), session=session)["errcode"] == 0  # a: 40014, then the row has b's token
    assert wecom.token_calls == 2  # WeCom not asked again
    assert wecom.api_calls[-2][1] != wecom.api_calls[-1][1] == stored(session).access_token


def test_outage_opens_the_breaker_and_it_half_opens(app, session, clock: FrozenClock, wecom: FakeWecom, user):
    api = wecom_api(app)
    api.send(body(), session=session)
    wecom.outage = True
    for _ in range(5):
        with pytest.raises(WecomUnavailable, match="busy"):
            api.send(body(), session=session)
    calls = len(wecom.api_calls)
    with pytest.raises(WecomUnavailable, match="circuit open"):
        api.send(body(), session=session)
    assert len(wecom.api_calls) == calls and api.breaker.is_open  # failing fast: WeCom not asked
    wecom.outage = False
    clock.advance(seconds=30)
    assert api.send(body(), session=session)["errcode"] == 0
    assert not api.breaker.is_open


def test_an_answer_is_not_an_outage(app, session, clock, wecom: FakeWecom, user):
    """Errcodes other than -1 (an unknown user, a limit) leave the breaker closed."""
    api = wecom_api(app)
    wecom.script = [45009] * 6
    for _ in range(6):
        assert api.send(body(), session=session)["errcode"] == 45009
    assert api.send(body("nobody"), session=session)["errcode"] == 81013
    assert not api.breaker.is_open


def test_not_configured_asks_nothing(app, session, settings_override, wecom: FakeWecom):
    settings_override(WECOM_SECRET="")
    with pytest.raises(WecomUnavailable, match="not configured"):
        wecom_api(app).send(body(), session=session)
    assert wecom.token_calls == 0 and wecom.api_calls == []


def test_wechat_and_wecom_tokens_live_side_by_side(app, session, clock, wecom: FakeWecom, wechat, user):
    """The WeChat token row (keyed by the appid) and WeCom's are distinct rows of one table."""
    from app.wechat.client import wechat_api
    from tests.support.fake_wechat import APPID

    wechat_api(app).call("wxa/msg_sec_check", {"content": "你好", "version": 2, "scene": 3, "openid": "o"},
                         session=session)
    wecom_api(app).send(body(), session=session)
    rows = dict(session.execute(sa.select(WechatAccessToken.appid, WechatAccessToken.access_token)).all())
    assert rows[APPID] == wechat.current and rows[KEY] == wecom.current and rows[APPID] != rows[KEY]
