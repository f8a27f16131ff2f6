"""WeChat Pay API v3 for the mini-program, through the ``wechatpayv3`` library (it signs every
request, verifies every answer's and notification's signature, decrypts AEAD_AES_256_GCM
resources): no signing is written here.

Configuration (environment, none committed): ``WECHATPAY_APPID``, ``WECHATPAY_MCHID``,
``WECHATPAY_APIV3_KEY``, ``WECHATPAY_CERT_SERIAL_NO``, ``WECHATPAY_PRIVATE_KEY_PATH`` (the
merchant's API key), ``WECHATPAY_PUBLIC_KEY_PATH`` and ``WECHATPAY_PUBLIC_KEY_ID`` (WeChat Pay's
public key: the client is built with it, so it never fetches platform certificates over the
network), ``WECHATPAY_NOTIFY_URL``, ``WECHATPAY_API_BASE`` (default
``https://api.mch.weixin.qq.com``; tests point it at a local server), ``WECHATPAY_TIMEOUT_SECONDS``.

The library fixes its gateway in code (``Core._gate_way``); ``client`` re-points it at
``WECHATPAY_API_BASE``, here and nowhere else.

Besides payments: WeChat Pay's parking service (车主服务, 无感支付), public for the sellers that
use it (``parking_service_state``, ``parking_enter``, ``parking_deduct``).

What the library does not do, done here: a notification whose ``Wechatpay-Timestamp`` is more
than ``NOTIFY_MAX_AGE`` from now is refused (a replay of an old, validly signed notification);
a notification that arrives twice is booked once (``payments.mark_paid`` is a compare-and-set).
"""
from __future__ import annotations

import gzip
import json
import secrets
import time
import urllib.parse
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from wechatpayv3 import SignType, WeChatPay, WeChatPayType

from app.config import Settings

DEFAULT_API_BASE = "https://api.mch.weixin.qq.com"
NOTIFY_MAX_AGE = 300
"""Seconds a notification's timestamp may differ from now (WeChat Pay retries with fresh ones)."""


class WeChatPayError(Exception):
    """WeChat Pay refused, failed or could not be reached (the caller keeps the intent pending).
    ``status`` and ``code`` are WeChat Pay's HTTP status and error code when it answered."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code = status, code


class NotificationRejected(Exception):
    """A notification that is forged, replayed, or not a payment's (answered 401, booked nothing)."""


@dataclass(frozen=True)
class WeChatPayConfig:
    appid: str
    mchid: str
    apiv3_key: str
    cert_serial_no: str
    private_key: str
    public_key: str
    public_key_id: str
    notify_url: str
    api_base: str = DEFAULT_API_BASE
    timeout: float = 5.0

    @classmethod
    def from_settings(cls, settings: Settings) -> WeChatPayConfig | None:
        """The configuration from the environment, or None when WeChat Pay is not configured."""
        names = ("WECHATPAY_APPID", "WECHATPAY_MCHID", "WECHATPAY_APIV3_KEY", "WECHATPAY_CERT_SERIAL_NO",
                 "WECHATPAY_PRIVATE_KEY_PATH", "WECHATPAY_PUBLIC_KEY_PATH", "WECHATPAY_PUBLIC_KEY_ID",
                 "WECHATPAY_NOTIFY_URL")
        values = {n: settings.get(n) for n in names}
        if not all(values.values()):
            return None
        return cls(appid=values["WECHATPAY_APPID"], mchid=values["WECHATPAY_MCHID"],
                   apiv3_key=values["WECHATPAY_APIV3_KEY"], cert_serial_no=values["WECHATPAY_CERT_SERIAL_NO"],
                   private_key=Path(values["WECHATPAY_PRIVATE_KEY_PATH"]).read_text(),
                   public_key=Path(values["WECHATPAY_PUBLIC_KEY_PATH"]).read_text(),
                   public_key_id=values["WECHATPAY_PUBLIC_KEY_ID"], notify_url=values["WECHATPAY_NOTIFY_URL"],
                   api_base=settings.get("WECHATPAY_API_BASE") or DEFAULT_API_BASE,
                   timeout=float(settings.get("WECHATPAY_TIMEOUT_SECONDS") or 5))


def client(config: WeChatPayConfig) -> WeChatPay:
    """The library's client, built with WeChat Pay's public key (no certificate download) and
    pointed at ``config.api_base``."""
    pay = WeChatPay(wechatpay_type=WeChatPayType.MINIPROG, mchid=config.mchid, private_key=config.private_key,
                    cert_serial_no=config.cert_serial_no, appid=config.appid, apiv3_key=config.apiv3_key,
                    notify_url=config.notify_url, public_key=config.public_key,
                    public_key_id=config.public_key_id, timeout=(config.timeout, config.timeout))
    pay._core._gate_way = config.api_base.rstrip("/")  # the one place the fixed gateway is re-pointed
    return pay


def _call(what: str, fn: Any, *args: Any, **kwargs: Any) -> dict:
    try:
        code, body = fn(*args, **kwargs)
    except Exception as exc:  # the library raises bare Exceptions (network, bad signature)
        raise WeChatPayError(f"{what}: {exc}") from exc
    if not 200 <= code < 300:
        raise WeChatPayError(f"{what}: HTTP {code} {str(body)[:200]}", status=code, code=_error_code(body))
    return json.loads(body) if body else {}


def _error_code(body: Any) -> str | None:
    """WeChat Pay's error ``code`` (``ORDERPAID``, ``SYSTEM_ERROR``…) of an error answer, if any."""
    try:
        code = json.loads(body).get("code")
    except (TypeError, ValueError, AttributeError):
        return None
    return str(code) if code else None


def jsapi_prepay(pay: WeChatPay, config: WeChatPayConfig, *, out_trade_no: str, description: str,
                 amount_fen: int, openid: str, expires_at: datetime) -> dict[str, str]:
    """Order with WeChat Pay (JSAPI) and return what ``wx.requestPayment`` needs, signed by the
    library with the merchant key."""
    answer = _call("prepay", pay.pay, description=description[:127], out_trade_no=out_trade_no,
                   amount={"total": amount_fen, "currency": "CNY"}, payer={"openid": openid},
                   time_expire=expires_at.isoformat(timespec="seconds"), pay_type=WeChatPayType.MINIPROG)
    prepay_id = answer.get("prepay_id")
    if not prepay_id:
        raise WeChatPayError("prepay: no prepay_id in the answer")
    timestamp, nonce, package = str(int(time.time())), secrets.token_hex(16), f"prepay_id={prepay_id}"
    signature = pay.sign([config.appid, timestamp, nonce, package], sign_type=SignType.RSA_SHA256)
    return {"appId": config.appid, "timeStamp": timestamp, "nonceStr": nonce, "package": package,
            "signType": "RSA", "paySign": signature}


def query(pay: WeChatPay, out_trade_no: str) -> dict:
    """The order as WeChat Pay sees it (``trade_state``, ``amount.total``, ``transaction_id``)."""
    return _call("query", pay.query, out_trade_no=out_trade_no)


def close(pay: WeChatPay, out_trade_no: str) -> None:
    """Close an unpaid order (关闭订单): WeChat Pay then refuses to take its payment.
    ``WeChatPayError.code`` ``ORDERPAID`` when it was paid meanwhile."""
    _call("close", pay.close, out_trade_no=out_trade_no)


def refund(pay: WeChatPay, *, out_trade_no: str, out_refund_no: str, amount_fen: int, total_fen: int,
           reason: str | None = None) -> dict:
    return _call("refund", pay.refund, out_refund_no=out_refund_no, out_trade_no=out_trade_no,
                 amount={"refund": amount_fen, "total": total_fen, "currency": "CNY"}, reason=reason)


def trade_bill(pay: WeChatPay, bill_date: str) -> bytes:
    """The day's trade bill (``bill_date`` ``YYYY-MM-DD``), as the CSV-like text WeChat Pay sends
    (downloaded gzipped)."""
    answer = _call("trade_bill", pay.trade_bill, bill_date=bill_date)
    url = answer.get("download_url")
    if not url:
        raise WeChatPayError("trade_bill: no download_url")
    try:
        code, body = pay.download_bill(url)
    except Exception as exc:
        raise WeChatPayError(f"download_bill: {exc}") from exc
    if code != 200:
        raise WeChatPayError(f"download_bill: HTTP {code}")
    try:
        return gzip.decompress(body if isinstance(body, bytes) else body.encode())
    except (OSError, EOFError) as exc:
        raise WeChatPayError("download_bill: not a gzip file") from exc


# ---------------------------------------------------------------- the parking service (车主服务)
# WeChat Pay's 无感支付 for car parks: a plate signed up in WeChat is deducted at the exit. Sellers
# (the parking scenario) call these; a failure is ``WeChatPayError`` as everywhere here.


def parking_service_state(pay: WeChatPay, *, plate: str, plate_color: str, openid: str) -> dict:
    """The plate's sign-up state for that payer (``user_state``: ``NORMAL`` signed up, ``PAUSE``,
    ``OUT_SERVICE``); WeChat Pay answers 404 (``WeChatPayError.status``) for a plate never signed up.

    The library puts ``plate`` and ``openid`` into the query string as given and signs that text:
    they are percent-encoded here before it signs, so the request goes out exactly as signed
    (left to ``requests``, 沪 would be encoded after the signature was made and WeChat Pay would
    refuse the signature)."""
    return _call("parking service find", pay.parking_service_find, plate_number=urllib.parse.quote(plate),
                 plate_color=plate_color, openid=urllib.parse.quote(openid))


def parking_enter(pay: WeChatPay, *, out_parking_no: str, plate: str, plate_color: str, entered_at: datetime,
                  parking_name: str, free_seconds: int) -> dict:
    """The entry notice (入场通知) of a signed-up plate; the answer's ``id`` is the parking id the
    deduction names."""
    return _call("parking enter", pay.parking_enter, out_parking_no=out_parking_no, plate_number=plate,
                 plate_color=plate_color, start_time=entered_at.isoformat(timespec="seconds"),
                 parking_name=parking_name, free_duration=max(1, free_seconds))


def parking_deduct(pay: WeChatPay, *, out_trade_no: str, description: str, amount_fen: int, parking_id: str,
                   plate: str, plate_color: str, entered_at: datetime, left_at: datetime, parking_name: str,
                   device_id: str) -> dict:
    """The deduction order at the exit (停车扣费受理) under a pending intent's ``out_trade_no``:
    ``trade_state`` ``ACCEPTED`` (or ``SUCCESS``/``USERPAYING``) when WeChat Pay takes it; the
    payment itself arrives as a notification like any other."""
    return _call("parking order", pay.parking_order, description=description[:127], out_trade_no=out_trade_no,
                 total=amount_fen, parking_id=parking_id, plate_number=plate, plate_color=plate_color,
                 start_time=entered_at.isoformat(timespec="seconds"), end_time=left_at.isoformat(timespec="seconds"),
                 parking_name=parking_name, charging_duration=max(1, int((left_at - entered_at).total_seconds())),
                 device_id=device_id)


def notification(pay: WeChatPay, headers: dict[str, str], body: bytes, *, now: float | None = None) -> dict:
    """A notification's decrypted resource, or ``NotificationRejected``: a bad signature, a
    timestamp more than ``NOTIFY_MAX_AGE`` away, or a body that is not an encrypted resource."""
    now = time.time() if now is None else now
    stamp = headers.get("Wechatpay-Timestamp", "")
    if not stamp.isdigit() or abs(now - int(stamp)) > NOTIFY_MAX_AGE:
        raise NotificationRejected("timestamp missing or too old (a replay?)")
    try:
        result = pay.callback(headers=headers, body=body)
    except Exception as exc:  # unknown algorithm, bad base64, AES-GCM tag mismatch
        raise NotificationRejected(str(exc)) from exc
    if not result or not isinstance(result.get("resource"), dict):
        raise NotificationRejected("signature does not verify, or no encrypted resource")
    return result
