"""Fixtures of the ledger's tests: the local WeChat Pay server (``fake``) and the app's ledger
runtime pointed at it (``runtime``)."""
from __future__ import annotations

import pytest

from scenarios.engines.ledger import wechatpay
from scenarios.engines.ledger.setup import LedgerRuntime
from tests.support import fake_wechatpay as fw


@pytest.fixture(scope="module")
def fake():
    fake = fw.FakeWeChatPay()
    server, _base = fw.start(fake)
    yield fake
    server.shutdown()


@pytest.fixture
def runtime(app, fake, monkeypatch):
    fake.down, fake.refund_failures, fake.sign_with, fake.refund_status = False, 0, None, "SUCCESS"
    config = wechatpay.WeChatPayConfig(appid=fw.APPID, mchid=fw.MCHID, apiv3_key=fw.APIV3_KEY,
                                       cert_serial_no=fw.MERCHANT_SERIAL, private_key=fake.merchant_private_pem,
                                       public_key=fake.platform_public_pem, public_key_id=fw.PUBLIC_KEY_ID,
                                       notify_url="https://example.invalid/api/v1/payments/notify/wechatpay",
                                       api_base=fake.base, timeout=3)
    rt = LedgerRuntime("wechatpay", config, wechatpay.client(config))
    monkeypatch.setitem(app.extensions, "ledger", rt)
    return rt
