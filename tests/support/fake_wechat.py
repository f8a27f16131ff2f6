"""A local HTTP server speaking WeChat's server API (the parts we use), and a fake SMS provider.

WeChat: ``POST /cgi-bin/stable_token`` (JSON; normal mode returns the current token until
it is revoked or expired, ``force_refresh`` always issues a new one and invalidates the old),
and with ``?access_token=``: ``/cgi-bin/message/subscribe/send`` (validates the body and the
field limits, answers 47003 when one is broken), ``/wxa/msg_sec_check`` (version 2: content
containing ``违规`` is risky, ``待审`` is review, else pass) and ``/wxa/media_check_async``
(answers a trace_id). A token not issued (or revoked) is 40001, an expired one 42001.

Tests steer it: ``outage`` (every answer is ``errcode -1``), ``script`` (for the next sends,
in order: an errcode, ``"slow"`` — not delivered, answered late — or ``"lost"`` — delivered,
answered late), ``revoke_current()`` (the token stops working; normal
mode still returns it unless ``rotate=True``), ``expire_current()``.

A fake lives for the whole session (of one xdist worker), so ``reset()`` first waits for the
requests still being answered: a delayed answer (``force_delay``, ``"slow"``) outlives the
test whose client gave up on it, and must not change the state the next test starts from.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

APPID = "wx-test-appid"
SECRET = "wx-test-secret"
CALLBACK_TOKEN = "cb-test-token"
SLOW_SECONDS = 0.6
THING_MAX = 20


QUIET_TIMEOUT = 10.0


class _Server:
    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.lock = threading.Lock()
        self._in_flight = 0
        self._quiet = threading.Condition()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self):
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_quiet(self, timeout: float = QUIET_TIMEOUT) -> None:
        """Return once no request is being answered (late answers of an earlier test included)."""
        with self._quiet:
            if not self._quiet.wait_for(lambda: self._in_flight == 0, timeout):
                raise RuntimeError(f"{type(self).__name__}: requests still in flight after {timeout} s")

    def _enter(self) -> None:
        with self._quiet:
            self._in_flight += 1

    def _leave(self) -> None:
        with self._quiet:
            self._in_flight -= 1
            self._quiet.notify_all()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def send_json(self, status: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                try:
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_POST(self) -> None:
                fake._enter()
                try:
                    self._post()
                finally:
                    fake._leave()

            def _post(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    return self.send_json(200, {"errcode": 47001, "errmsg": "data format error"})
                status, answer = fake.handle(url.path, dict(urllib.parse.parse_qsl(url.query)), body, raw,
                                             dict(self.headers))
                self.send_json(status, answer)

        return Handler

    def handle(self, path: str, query: dict[str, str], body: Any, raw: bytes,
               headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        raise NotImplementedError


class FakeWechat(_Server):
    def __init__(self) -> None:
        super().__init__()
        self.reset()

    def reset(self) -> None:
        self.wait_quiet()
        self.expires_in = 7200
        self.current: str | None = None
        self.valid: set[str] = set()
        self.expired: set[str] = set()
        self.rotate_on_normal = False
        self.token_calls: list[bool] = []  # force_refresh of each stable_token call
        self.token_delay = 0.0
        self.force_delay = 0.0  # only for force_refresh calls (counted before the delay)
        self.outage = False
        self.script: list[int | str] = []
        self.sent: list[dict[str, Any]] = []
        self.sec_checks: list[dict[str, Any]] = []
        self.media_checks: list[dict[str, Any]] = []
        self.api_calls: list[tuple[str, str]] = []  # (path, token used)

    # ------------------------------------------------------------ steering

    def revoke_current(self, *, rotate: bool = False) -> None:
        with self.lock:
            self.valid.discard(self.current or "")
            self.rotate_on_normal = rotate

    def expire_current(self) -> None:
        with self.lock:
            self.expired.add(self.current or "")
            self.rotate_on_normal = True

    def _new_token(self) -> str:
        token = "tok-" + secrets.token_hex(12)
        self.valid = {token}
        self.current = token
        self.rotate_on_normal = False
        return token

    # ------------------------------------------------------------ protocol

    def handle(self, path: str, query: dict[str, str], body: Any, raw: bytes,
               headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if path == "/cgi-bin/stable_token":
            return 200, self._stable_token(body)
        token = query.get("access_token", "")
        with self.lock:
            self.api_calls.append((path, token))
            if self.outage:
                return 200, {"errcode": -1, "errmsg": "system error"}
            if token in self.expired:
                return 200, {"errcode": 42001, "errmsg": "access_token expired"}
            if token not in self.valid:
                return 200, {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}
        if path == "/cgi-bin/message/subscribe/send":
            return 200, self._send(body)
        if path == "/wxa/msg_sec_check":
            return 200, self._msg_sec_check(body)
        if path == "/wxa/media_check_async":
            return 200, self._media_check(body)
        return 404, {"errcode": 404, "errmsg": "not found"}

    def _stable_token(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.token_delay:
            time.sleep(self.token_delay)
        with self.lock:
            if self.outage:
                return {"errcode": -1, "errmsg": "system error"}
            if body.get("grant_type") != "client_credential":
                return {"errcode": 40002, "errmsg": "invalid grant_type"}
            if body.get("appid") != APPID:
                return {"errcode": 40013, "errmsg": "invalid appid"}
            if body.get("secret") != SECRET:
                return {"errcode": 40125, "errmsg": "invalid appsecret"}
            force = body.get("force_refresh") is True
            self.token_calls.append(force)
        if force and self.force_delay:
            time.sleep(self.force_delay)
        with self.lock:
            if force or self.current is None or self.rotate_on_normal or self.current in self.expired:
                self._new_token()
            return {"access_token": self.current, "expires_in": self.expires_in}

    def _send(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            step = self.script.pop(0) if self.script else 0
        if step == "slow":  # an answer after the client's timeout: not delivered
            time.sleep(SLOW_SECONDS)
            return {"errcode": -1, "errmsg": "system error"}
        if step == "lost":  # delivered, but the answer comes after the client's timeout
            answer = self._deliver(body)
            time.sleep(SLOW_SECONDS)
            return answer
        if step:
            return {"errcode": step, "errmsg": "scripted"}
        return self._deliver(body)

    def _deliver(self, body: dict[str, Any]) -> dict[str, Any]:
        for key in ("touser", "template_id", "data"):
            if not body.get(key):
                return {"errcode": 47003, "errmsg": f"argument invalid! {key} empty"}
        if body.get("miniprogram_state") not in ("formal", "trial", "developer") or body.get("lang") != "zh_CN":
            return {"errcode": 47003, "errmsg": "argument invalid! miniprogram_state or lang"}
        for key, value in body["data"].items():
            text = value.get("value") if isinstance(value, dict) else None
            if not text:
                return {"errcode": 47003, "errmsg": f"argument invalid! data.{key}.value is empty"}
            if key.startswith("thing") and len(text) > THING_MAX:
                return {"errcode": 47003, "errmsg": f"argument invalid! data.{key}.value exceeds limit"}
        with self.lock:
            self.sent.append(body)
        return {"errcode": 0, "errmsg": "ok", "msgid": len(self.sent)}

    def _msg_sec_check(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("version") != 2 or not body.get("openid") or body.get("scene") not in (1, 2, 3, 4):
            return {"errcode": 47003, "errmsg": "argument invalid"}
        content = str(body.get("content") or "")
        with self.lock:
            self.sec_checks.append(body)
        if "违规" in content:
            suggest, label = "risky", 20006
        elif "待审" in content:
            suggest, label = "review", 21000
        else:
            suggest, label = "pass", 100
        return {"errcode": 0, "errmsg": "ok", "trace_id": secrets.token_hex(8),
                "result": {"suggest": suggest, "label": label},
                "detail": [{"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": label}]}

    def _media_check(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("version") != 2 or not body.get("openid") or body.get("media_type") not in (1, 2):
            return {"errcode": 47003, "errmsg": "argument invalid"}
        if not str(body.get("media_url", "")).startswith(("http://", "https://")):
            return {"errcode": 47003, "errmsg": "invalid media_url"}
        trace_id = f"{secrets.token_hex(4)}-{secrets.token_hex(4)}-{secrets.token_hex(4)}"
        with self.lock:
            self.media_checks.append({**body, "trace_id": trace_id})
        return {"errcode": 0, "errmsg": "ok", "trace_id": trace_id}


def media_event(trace_id: str, suggest: str, label: int = 100, *, errcode: int = 0) -> dict[str, Any]:
    """The JSON WeChat pushes with a media_check_async verdict (version 2)."""
    return {
        "ToUserName": "gh_test", "FromUserName": "o-any", "CreateTime": 1700000000, "MsgType": "event",
        "Event": "wxa_media_check", "appid": APPID, "trace_id": trace_id, "version": 2,
        "detail": [{"strategy": "content_model", "errcode": errcode, "suggest": suggest, "label": label, "prob": 90}],
        "errcode": errcode, "errmsg": "ok" if errcode == 0 else "error",
        "result": {"suggest": suggest, "label": label},
    }


def signed_query(timestamp: int, *, token: str = CALLBACK_TOKEN, nonce: str | None = None) -> dict[str, str]:
    nonce = nonce or secrets.token_hex(6)
    sig = hashlib.sha1("".join(sorted([token, str(timestamp), nonce])).encode()).hexdigest()  # noqa: S324
    return {"signature": sig, "timestamp": str(timestamp), "nonce": nonce}


class FakeSms(_Server):
    """The SMS provider API of ``app/sms/providers.py``: checks the HMAC signature."""

    KEY = "sms-test-key"

    def __init__(self) -> None:
        super().__init__()
        self.reset()

    def reset(self) -> None:
        self.wait_quiet()
        self.received: list[dict[str, Any]] = []
        self.script: list[int | str] = []
        self.bad_signatures = 0

    def handle(self, path: str, query: dict[str, str], body: Any, raw: bytes,
               headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if path != "/messages":
            return 404, {"error": "not_found"}
        lower = {k.lower(): v for k, v in headers.items()}
        ts, nonce = lower.get("x-sms-timestamp", ""), lower.get("x-sms-nonce", "")
        sig = lower.get("x-sms-signature", "")
        expected = hmac.new(self.KEY.encode(), f"{ts}\n{nonce}\n".encode() + raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, sig):
            with self.lock:
                self.bad_signatures += 1
            return 401, {"error": "bad_signature"}
        with self.lock:
            step = self.script.pop(0) if self.script else 200
        if step not in (200, "slow"):
            return int(step), {"error": "scripted"}
        with self.lock:
            self.received.append({**body, "idempotency_key": lower.get("idempotency-key")})
            answer = {"id": f"sms-{len(self.received)}"}
        if step == "slow":  # accepted, but the answer comes after the client's timeout
            time.sleep(SLOW_SECONDS)
        return 200, answer
