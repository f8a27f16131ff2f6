"""Fixtures of the notification and moderation tests (a pytest plugin, listed in ``tests/conftest.py``)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from app.wechat.client import reset_clients
from app.wecom import client as wecom_client
from app.worker import Worker
from tests.support import fake_wecom as wecom_fake
from tests.support.fake_wechat import APPID, CALLBACK_TOKEN, SECRET, FakeSms, FakeWechat
from tests.support.fake_wecom import FakeWecom

TIMEOUT = 0.3


def wechat_env(fake: FakeWechat, **extra: str) -> dict[str, str]:
    return {"WECHAT_API_BASE": fake.base_url, "WECHAT_APPID": APPID, "WECHAT_SECRET": SECRET,
            "WECHAT_TIMEOUT_SECONDS": str(TIMEOUT), "WECHAT_MINIPROGRAM_STATE": "developer",
            "WECHAT_CALLBACK_TOKEN": CALLBACK_TOKEN, **extra}


@pytest.fixture(scope="session")
def fake_wechat():
    fake = FakeWechat().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def fake_sms():
    fake = FakeSms().start()
    yield fake
    fake.stop()


@pytest.fixture
def wechat(app, settings_override, fake_wechat) -> FakeWechat:
    """WeChat settings pointing at the fake, a fresh fake state and fresh clients (breakers).

    The fake is the session's: at the end the test's late answers are waited for, so that
    none of them lands in the next test (``reset`` waits for them too).
    """
    fake_wechat.reset()
    settings_override(**wechat_env(fake_wechat))
    reset_clients(app)
    yield fake_wechat
    fake_wechat.wait_quiet()
    reset_clients(app)


@pytest.fixture
def sms(settings_override, fake_sms) -> Iterator[FakeSms]:
    fake_sms.reset()
    settings_override(SMS_PROVIDER="http", SMS_API_BASE=fake_sms.base_url, SMS_API_KEY=FakeSms.KEY,
                      SMS_TIMEOUT_SECONDS=str(TIMEOUT))
    yield fake_sms
    fake_sms.wait_quiet()


def wecom_env(fake: FakeWecom, **extra: str) -> dict[str, str]:
    return {"WECOM_API_BASE": fake.base_url, "WECOM_CORP_ID": wecom_fake.CORP_ID,
            "WECOM_AGENT_ID": str(wecom_fake.AGENT_ID), "WECOM_SECRET": wecom_fake.SECRET,
            "WECOM_TIMEOUT_SECONDS": str(TIMEOUT), "CONSOLE_BASE_URL": "https://jsq.jinshan.example", **extra}


@pytest.fixture(scope="session")
def fake_wecom():
    fake = FakeWecom().start()
    yield fake
    fake.stop()


@pytest.fixture
def wecom(app, settings_override, fake_wecom) -> Iterator[FakeWecom]:
    """WeCom settings pointing at the fake, a fresh fake state and fresh clients (breakers);
    the test's late answers are waited for at its end."""
    fake_wecom.reset()
    settings_override(**wecom_env(fake_wecom))
    wecom_client.reset_clients(app)
    yield fake_wecom
    fake_wecom.wait_quiet()
    wecom_client.reset_clients(app)


@pytest.fixture
def worker(db, clock) -> Worker:
    return Worker(db, clock, worker_id="test-notify", tick_seconds=0.01)


def count(session, model, *where) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model).where(*where)) or 0
