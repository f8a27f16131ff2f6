"""A local server speaking WeChat Pay API v3 (the parts the ledger uses), both ways signed.

It checks every request's ``Authorization: WECHATPAY2-SHA256-RSA2048 mchid=…,nonce_str=…,
signature=…,timestamp=…,serial_no=…`` against the merchant's public key (401 ``SIGN_ERROR``
otherwise) and signs every answer with WeChat Pay's private key (``Wechatpay-Signature`` over
``timestamp\\nnonce\\nbody\\n``, ``Wechatpay-Serial`` the public key id). Orders:
``POST /v3/pay/transactions/jsapi`` (→ ``prepay_id``), ``GET
/v3/pay/transactions/out-trade-no/<no>``, ``POST …/<no>/close`` (404 ``ORDER_NOT_EXIST`` for an
order never placed, 400 ``ORDERPAID`` for a paid one); ``POST
/v3/refund/domestic/refunds``; ``GET /v3/bill/tradebill`` (→ ``download_url``) and the gzipped
bill. ``notification(...)`` builds what WeChat Pay would POST to the notify URL: the resource
encrypted with AEAD_AES_256_GCM under the API v3 key, the body signed with its private key.
Tests steer it: ``down`` (every answer 500 SYSTEM_ERROR), ``refund_failures`` (the next N
refunds answer 500), ``refund_status`` (what a refund answers: SUCCESS or PROCESSING),
``sign_with`` (answer with another key: the client must refuse)."""
from __future__ import annotations

import base64
import gzip
import json
import re
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

APPID = "wx-pay-test-appid"
MCHID = "1900000109"
APIV3_KEY = "0123456789abcdef0123456789abcdef"  # 32 bytes
MERCHANT_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
PUBLIC_KEY_ID = "PUB_KEY_ID_0119000001092025050100000000000001"


def _pem_private(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _pem_public(key: rsa.RSAPrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _sign(key: rsa.RSAPrivateKey, text: str) -> str:
    return base64.b64encode(key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def _verify(public_key: Any, text: str, signature: str) -> bool:
    try:
        public_key.verify(base64.b64decode(signature), text.encode(), padding.PKCS1v15(), hashes.SHA256())
        return True
    except Exception:
        return False


@dataclass
class FakeWeChatPay:
    merchant_key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    platform_key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    orders: dict[str, dict] = field(default_factory=dict)
    refunds: list[dict] = field(default_factory=list)
    bill: str = ""
    down: bool = False
    refund_failures: int = 0
    refund_status: str = "SUCCESS"
    sign_with: rsa.RSAPrivateKey | None = None
    base: str = ""
    parking_users: dict[str, str] = field(default_factory=dict)
    """车主服务: plate → user_state (``NORMAL`` signed up, ``PAUSE``...); a plate absent: not signed up."""
    parkings: dict[str, dict] = field(default_factory=dict)
    deduction_state: str = "ACCEPTED"
    closed: list[str] = field(default_factory=list)
    """Orders closed through the close API, in order."""

    @property
    def merchant_private_pem(self) -> str:
        return _pem_private(self.merchant_key)

    @property
    def platform_public_pem(self) -> str:
        return _pem_public(self.platform_key)

    # ---------------------------------------------------------------- notifications

    def notification(self, resource: dict, *, timestamp: int | None = None, key: rsa.RSAPrivateKey | None = None,
                     apiv3_key: str = APIV3_KEY) -> tuple[dict[str, str], bytes]:
        """(headers, body) of a TRANSACTION.SUCCESS-style notification carrying ``resource``."""
        nonce = secrets.token_hex(6)  # 12 bytes as text, as WeChat Pay sends
        associated = "transaction"
        ciphertext = AESGCM(apiv3_key.encode()).encrypt(nonce.encode(), json.dumps(resource).encode(),
                                                        associated.encode())
        body = json.dumps({
            "id": secrets.token_hex(8), "create_time": "2026-12-04T20:00:00+08:00", "resource_type": "encrypt-resource",
            "event_type": f"REFUND.{resource['refund_status']}" if "refund_status" in resource
            else "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                         "ciphertext": base64.b64encode(ciphertext).decode(), "associated_data": associated,
                         "nonce": nonce}}).encode()
        ts = str(int(time.time()) if timestamp is None else timestamp)
        header_nonce = secrets.token_hex(16)
        signature = _sign(key or self.platform_key, f"{ts}\n{header_nonce}\n{body.decode()}\n")
        return ({"Wechatpay-Timestamp": ts, "Wechatpay-Nonce": header_nonce, "Wechatpay-Signature": signature,
                 "Wechatpay-Serial": PUBLIC_KEY_ID, "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
                 "Content-Type": "application/json"}, body)

    # ---------------------------------------------------------------- the server

    def answer(self, method: str, path: str, body: str, headers: Any) -> tuple[int, bytes, str]:
        auth = headers.get("Authorization", "")
        fields = dict(re.findall(r'(\w+)="([^"]*)"', auth))
        text = f"{method}\n{path}\n{fields.get('timestamp')}\n{fields.get('nonce_str')}\n{body}\n"
        if (not auth.startswith("WECHATPAY2-SHA256-RSA2048 ") or fields.get("mchid") != MCHID
                or fields.get("serial_no") != MERCHANT_SERIAL
                or not _verify(self.merchant_key.public_key(), text, fields.get("signature", ""))):
            return 401, json.dumps({"code": "SIGN_ERROR", "message": "签名错误"}).encode(), "application/json"
        if self.down:
            return 500, json.dumps({"code": "SYSTEM_ERROR", "message": "系统繁忙"}).encode(), "application/json"
        route = path.split("?", 1)[0]
        data = json.loads(body) if body else {}
        if method == "POST" and route == "/v3/pay/transactions/jsapi":
            self.orders[data["out_trade_no"]] = {**data, "trade_state": "NOTPAY"}
            return 200, json.dumps({"prepay_id": "wx" + secrets.token_hex(14)}).encode(), "application/json"
        found = re.fullmatch(r"/v3/pay/transactions/out-trade-no/([A-Za-z0-9]+)(/close)?", route)
        if found and found.group(2) and method == "POST":
            order = self.orders.get(found.group(1))
            if order is None:
                missing = {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}
                return 404, json.dumps(missing).encode(), "application/json"
            if order["trade_state"] == "SUCCESS":
                return 400, json.dumps({"code": "ORDERPAID", "message": "订单已支付"}).encode(), "application/json"
            order["trade_state"] = "CLOSED"
            self.closed.append(found.group(1))
            return 204, b"", "application/json"
        if found and method == "GET":
            order = self.orders.get(found.group(1))
            if order is None:
                missing = {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}
                return 404, json.dumps(missing).encode(), "application/json"
            answer = {"out_trade_no": found.group(1), "trade_state": order["trade_state"],
                      "amount": {"total": order["amount"]["total"], "payer_total": order["amount"]["total"],
                                 "currency": "CNY"},
                      "transaction_id": order.get("transaction_id")}
            return 200, json.dumps(answer).encode(), "application/json"
        if method == "POST" and route == "/v3/refund/domestic/refunds":
            if self.refund_failures:
                self.refund_failures -= 1
                return 500, json.dumps({"code": "SYSTEM_ERROR", "message": "系统繁忙"}).encode(), "application/json"
            self.refunds.append(data)
            accepted = {"refund_id": "50" + secrets.token_hex(10), "out_refund_no": data["out_refund_no"],
                        "status": self.refund_status, "amount": data["amount"]}
            return 200, json.dumps(accepted).encode(), "application/json"
        if method == "GET" and route == "/v3/bill/tradebill":
            return 200, json.dumps({"hash_type": "SHA1", "hash_value": "x",
                                    "download_url": f"{self.base}/v3/billdownload/file?token=t"}).encode(), \
                "application/json"
        if method == "GET" and route == "/v3/billdownload/file":
            return 200, gzip.compress(self.bill.encode("utf-8")), "application/octet-stream"
        parked = self.parking_answer(method, route, path, data)
        if parked is not None:
            return parked
        return 404, json.dumps({"code": "NOT_FOUND", "message": "无此接口"}).encode(), "application/json"

    def parking_answer(self, method: str, route: str, path: str, data: dict) -> tuple[int, bytes, str] | None:
        """WeChat Pay's parking service (车主服务): sign-up state, entry notice, deduction order."""
        if method == "GET" and route == "/v3/vehicle/parking/services/find":
            query = dict(p.split("=", 1) for p in path.split("?", 1)[1].split("&"))
            plate = urllib.parse.unquote(query.get("plate_number", ""))
            state = self.parking_users.get(plate)
            if state is None:
                return 404, json.dumps({"code": "NOT_FOUND", "message": "用户未开通"}).encode(), "application/json"
            return 200, json.dumps({"plate_number": plate, "plate_color": query.get("plate_color"),
                                    "user_state": state, "service_id": "svc" + plate.encode().hex()[:8]}
                                   ).encode(), "application/json"
        if method == "POST" and route == "/v3/vehicle/parking/parkings":
            parking_id = "PK" + secrets.token_hex(8)
            self.parkings[parking_id] = {**data, "state": "NORMAL"}
            return 200, json.dumps({"id": parking_id, "out_parking_no": data["out_parking_no"],
                                    "plate_number": data["plate_number"], "state": "NORMAL"}).encode(), \
                "application/json"
        if method == "POST" and route == "/v3/vehicle/transactions/parking":
            if data["parking_info"]["parking_id"] not in self.parkings:
                return 400, json.dumps({"code": "PARAM_ERROR", "message": "入场不存在"}).encode(), "application/json"
            self.orders[data["out_trade_no"]] = {**data, "trade_state": self.deduction_state}
            return 200, json.dumps({"out_trade_no": data["out_trade_no"], "trade_state": self.deduction_state,
                                    "amount": data["amount"]}).encode(), "application/json"
        return None

    def pay(self, out_trade_no: str, transaction_id: str) -> None:
        """The resident paid in WeChat (the order is now SUCCESS)."""
        self.orders[out_trade_no].update(trade_state="SUCCESS", transaction_id=transaction_id)


def start(fake: FakeWeChatPay) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            status, payload, content_type = fake.answer(self.command, self.path, body, self.headers)
            ts, nonce = str(int(time.time())), secrets.token_hex(16)
            text = payload.decode() if content_type == "application/json" else ""
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Wechatpay-Timestamp", ts)
            self.send_header("Wechatpay-Nonce", nonce)
            self.send_header("Wechatpay-Serial", PUBLIC_KEY_ID)
            self.send_header("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048")
            key = fake.sign_with or fake.platform_key
            self.send_header("Wechatpay-Signature", _sign(key, f"{ts}\n{nonce}\n{text}\n"))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _serve

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    fake.base = f"http://127.0.0.1:{server.server_address[1]}"
    return server, fake.base
