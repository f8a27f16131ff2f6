"""The WeChat Pay client (the ``wechatpayv3`` library, re-pointed at a local server) against a
server that speaks API v3 and checks signatures both ways; notifications verified and decrypted,
forged or replayed ones refused."""
from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from scenarios.engines.ledger import wechatpay
from tests.support import fake_wechatpay as fw


@pytest.fixture(scope="module")
def fake():
    fake = fw.FakeWeChatPay()
    server, _base = fw.start(fake)
    yield fake
    server.shutdown()


@pytest.fixture
def config(fake):
    fake.down, fake.refund_failures, fake.sign_with = False, 0, None
    return wechatpay.WeChatPayConfig(appid=fw.APPID, mchid=fw.MCHID, apiv3_key=fw.APIV3_KEY,
                                     cert_serial_no=fw.MERCHANT_SERIAL, private_key=fake.merchant_private_pem,
                                     public_key=fake.platform_public_pem, public_key_id=fw.PUBLIC_KEY_ID,
                                     notify_url="https://example.invalid/api/v1/payments/notify/wechatpay",
                                     api_base=fake.base, timeout=3)


def _prepay(fake, config, out_trade_no="P0000000000000000000001", amount=1500):
    return wechatpay.jsapi_prepay(wechatpay.client(config), config, out_trade_no=out_trade_no, description="球场",
                                  amount_fen=amount, openid="o-test-openid",
                                  expires_at=datetime(2026, 12, 4, 12, 15, tzinfo=UTC))


def test_prepay_is_signed_by_the_merchant_and_answers_what_requestpayment_needs(fake, config):
    params = _prepay(fake, config)
    assert fake.orders["P0000000000000000000001"]["amount"] == {"total": 1500, "currency": "CNY"}
    assert fake.orders["P0000000000000000000001"]["payer"] == {"openid": "o-test-openid"}
    assert params["package"].startswith("prepay_id=wx") and params["signType"] == "RSA"
    text = f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n"
    assert fw._verify(fake.merchant_key.public_key(), text, params["paySign"])  # wx.requestPayment's check


def test_a_request_signed_with_another_key_is_refused_by_the_server(fake, config):
    other = rsa.generate_private_key(65537, 2048)
    forged = wechatpay.WeChatPayConfig(**{**config.__dict__, "private_key": fw._pem_private(other)})
    with pytest.raises(wechatpay.WeChatPayError, match="401"):
        _prepay(fake, forged, out_trade_no="P0000000000000000000002")


def test_an_answer_not_signed_by_wechat_pay_is_refused_by_the_client(fake, config):
    fake.sign_with = rsa.generate_private_key(65537, 2048)
    with pytest.raises(wechatpay.WeChatPayError, match="signature"):
        _prepay(fake, config, out_trade_no="P0000000000000000000003")


def test_wechat_pay_down_is_an_error_the_caller_can_retry(fake, config):
    fake.down = True
    with pytest.raises(wechatpay.WeChatPayError, match="500"):
        _prepay(fake, config, out_trade_no="P0000000000000000000004")


def test_query_close_refund_and_bill(fake, config):
    pay = wechatpay.client(config)
    _prepay(fake, config, out_trade_no="P0000000000000000000005", amount=2000)
    assert wechatpay.query(pay, "P0000000000000000000005")["trade_state"] == "NOTPAY"
    fake.pay("P0000000000000000000005", "4200000000000000000000000005")
    paid = wechatpay.query(pay, "P0000000000000000000005")
    assert (paid["trade_state"], paid["amount"]["total"]) == ("SUCCESS", 2000)
    fake.refund_failures = 1
    with pytest.raises(wechatpay.WeChatPayError):
        wechatpay.refund(pay, out_trade_no="P0000000000000000000005", out_refund_no="R1", amount_fen=500,
                         total_fen=2000)
    answer = wechatpay.refund(pay, out_trade_no="P0000000000000000000005", out_refund_no="R1", amount_fen=500,
                              total_fen=2000)
    assert answer["status"] == "SUCCESS" and fake.refunds[-1]["amount"]["refund"] == 500
    _prepay(fake, config, out_trade_no="P0000000000000000000006")
    wechatpay.close(pay, "P0000000000000000000006")
    assert fake.orders["P0000000000000000000006"]["trade_state"] == "CLOSED"
    fake.bill = "交易时间,商户订单号,订单金额\n`2026-12-04 10:00:00,`P0000000000000000000005,`20.00\n"
    assert wechatpay.trade_bill(pay, "2026-12-04").decode() == fake.bill


RESOURCE = {"out_trade_no": "P0000000000000000000007", "transaction_id": "4200000000000000000000000007",
            "trade_state": "SUCCESS", "amount": {"total": 1500, "payer_total": 1500, "currency": "CNY"}}


def test_a_notification_is_verified_and_decrypted(fake, config):
    headers, body = fake.notification(RESOURCE)
    got = wechatpay.notification(wechatpay.client(config), headers, body)
    assert got["resource"] == RESOURCE and got["event_type"] == "TRANSACTION.SUCCESS"


def test_a_forged_notification_is_refused(fake, config):
    headers, body = fake.notification(RESOURCE, key=rsa.generate_private_key(65537, 2048))
    with pytest.raises(wechatpay.NotificationRejected):
        wechatpay.notification(wechatpay.client(config), headers, body)


def test_a_tampered_body_is_refused(fake, config):
    headers, body = fake.notification(RESOURCE)
    tampered = json.loads(body)
    tampered["summary"] = "改过"
    with pytest.raises(wechatpay.NotificationRejected):
        wechatpay.notification(wechatpay.client(config), headers, json.dumps(tampered).encode())


def test_a_resource_encrypted_under_another_key_is_refused(fake, config):
    headers, body = fake.notification(RESOURCE, apiv3_key="ffffffffffffffffffffffffffffffff")
    with pytest.raises(wechatpay.NotificationRejected):
        wechatpay.notification(wechatpay.client(config), headers, body)


def test_a_replayed_old_notification_is_refused(fake, config):
    old = int(time.time() - timedelta(minutes=10).total_seconds())
    headers, body = fake.notification(RESOURCE, timestamp=old)
    with pytest.raises(wechatpay.NotificationRejected, match="too old"):
        wechatpay.notification(wechatpay.client(config), headers, body)


def test_the_parking_service_calls_are_signed_as_sent_with_a_chinese_plate(fake, config):
    """The plate (沪…) and openid are percent-encoded before the library signs the URL: the local
    server checks the signature over the path it received, so a plate encoded after signing fails."""
    pay = wechatpay.client(config)
    fake.parking_users["沪A77777"] = "NORMAL"
    state = wechatpay.parking_service_state(pay, plate="沪A77777", plate_color="BLUE", openid="o-plate/owner")
    assert (state["user_state"], state["plate_number"]) == ("NORMAL", "沪A77777")
    with pytest.raises(wechatpay.WeChatPayError) as missing:
        wechatpay.parking_service_state(pay, plate="沪B00000", plate_color="BLUE", openid="o-plate-owner")
    assert missing.value.status == 404
    entered_at = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    entered = wechatpay.parking_enter(pay, out_parking_no="pk77", plate="沪A77777", plate_color="BLUE",
                                      entered_at=entered_at, parking_name="金山停车场", free_seconds=0)
    parked = fake.parkings[entered["id"]]
    assert (parked["free_duration"], parked["plate_number"]) == (1, "沪A77777")
    fake.deduction_state = "ACCEPTED"
    answer = wechatpay.parking_deduct(pay, out_trade_no="P0000000000000000000077", description="停车费",
                                      amount_fen=1200, parking_id=entered["id"], plate="沪A77777", plate_color="BLUE",
                                      entered_at=entered_at, left_at=entered_at + timedelta(minutes=90),
                                      parking_name="金山停车场", device_id="7")
    assert answer["trade_state"] == "ACCEPTED"
    order = fake.orders["P0000000000000000000077"]
    assert (order["amount"]["total"], order["parking_info"]["charging_duration"]) == (1200, 5400)


def test_an_error_answer_carries_wechat_pays_status_and_code(fake, config):
    pay = wechatpay.client(config)
    _prepay(fake, config, out_trade_no="P0000000000000000000078")
    fake.pay("P0000000000000000000078", "4200000000000000000000000078")
    with pytest.raises(wechatpay.WeChatPayError) as paid:
        wechatpay.close(pay, "P0000000000000000000078")
    assert (paid.value.status, paid.value.code) == (400, "ORDERPAID")
