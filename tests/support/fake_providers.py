"""A local HTTP server speaking WeChat's jscode2session and the assumed 随申办 OAuth 2.

Tests register codes (``wechat_code``/``suishenban_code``) and get their answers; special
codes give the providers' error answers: ``wx-err-<errcode>``, ``ssb-err-<status>``, and
``slow`` (answers after ``SLOW_SECONDS``, longer than the clients' test timeout). Codes
are single-use, as the real ones are.
"""
from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WECHAT_APPID = "wx-test-appid"
WECHAT_SECRET = "wx-test-secret"
SSB_CLIENT_ID = "ssb-test-client"
SSB_CLIENT_SECRET = "ssb-test-secret"
SLOW_SECONDS = 1.5


class FakeProviders:
    def __init__(self) -> None:
        self.wechat_codes: dict[str, dict[str, Any]] = {}
        self.ssb_codes: dict[str, dict[str, Any]] = {}
        self.ssb_tokens: dict[str, dict[str, Any]] = {}
        self.used: set[str] = set()
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeProviders:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wechat_code(self, openid: str | None = None, unionid: str | None = None) -> str:
        code = "wx-" + secrets.token_hex(8)
        self.wechat_codes[code] = {"openid": openid or "o" + secrets.token_hex(8), "unionid": unionid}
        return code

    def suishenban_code(self, *, name: str, id_number: str, mobile: str | None = None, sub: str | None = None,
                        verified: bool = True) -> str:
        code = "ssb-" + secrets.token_hex(8)
        self.ssb_codes[code] = {"sub": sub or "u" + secrets.token_hex(8), "name": name, "id_type": "resident_id",
                                "id_number": id_number, "mobile": mobile, "real_name_verified": verified}
        return code

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None,
                      content_type: str = "application/json") -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(raw)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                fake.requests.append(("GET", url.path))
                query = dict(urllib.parse.parse_qsl(url.query))
                if url.path == "/sns/jscode2session":
                    return self._jscode2session(query)
                if url.path == "/oauth2/userinfo":
                    token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                    identity = fake.ssb_tokens.pop(token, None)
                    if identity is None:
                        return self._send(401, {"error": "invalid_token"})
                    return self._send(200, identity)
                return self._send(404, {"error": "not_found"})

            def do_POST(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                fake.requests.append(("POST", url.path))
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                if url.path == "/oauth2/token":
                    return self._token(form)
                return self._send(404, {"error": "not_found"})

            def _jscode2session(self, q: dict[str, str]) -> None:
                # WeChat answers HTTP 200 with errcode, and text/plain as often as not.
                plain = "text/plain"
                if q.get("appid") != WECHAT_APPID or q.get("secret") != WECHAT_SECRET:
                    return self._send(200, {"errcode": 40013, "errmsg": "invalid appid"}, content_type=plain)
                if q.get("grant_type") != "authorization_code":
                    return self._send(200, {"errcode": 40002, "errmsg": "invalid grant_type"}, content_type=plain)
                code = q.get("js_code", "")
                if code == "slow":
                    time.sleep(SLOW_SECONDS)
                    return self._send(200, {"errcode": -1, "errmsg": "system error"}, content_type=plain)
                if code.startswith("wx-err-"):
                    errcode = int(code.removeprefix("wx-err-"))
                    return self._send(200, {"errcode": errcode, "errmsg": "error"}, content_type=plain)
                with fake.lock:
                    if code in fake.used:
                        return self._send(200, {"errcode": 40163, "errmsg": "code been used"}, content_type=plain)
                    entry = fake.wechat_codes.get(code)
                    if entry is None:
                        return self._send(200, {"errcode": 40029, "errmsg": "invalid code"}, content_type=plain)
                    fake.used.add(code)
                body = {"openid": entry["openid"], "session_key": secrets.token_urlsafe(16)}
                if entry.get("unionid"):
                    body["unionid"] = entry["unionid"]
                return self._send(200, body, content_type=plain)

            def _token(self, form: dict[str, str]) -> None:
                if form.get("client_id") != SSB_CLIENT_ID or form.get("client_secret") != SSB_CLIENT_SECRET:
                    return self._send(401, {"error": "invalid_client"})
                if form.get("grant_type") != "authorization_code":
                    return self._send(400, {"error": "unsupported_grant_type"})
                code = form.get("code", "")
                if code == "slow":
                    time.sleep(SLOW_SECONDS)
                    return self._send(503, {"error": "temporarily_unavailable"})
                if code.startswith("ssb-err-"):
                    status = int(code.removeprefix("ssb-err-"))
                    return self._send(status, {"error": "slow_down" if status == 429 else "server_error"},
                                      headers={"Retry-After": "30"} if status == 429 else None)
                with fake.lock:
                    identity = fake.ssb_codes.get(code)
                    if identity is None or code in fake.used:
                        return self._send(400, {"error": "invalid_grant"})
                    fake.used.add(code)
                token = secrets.token_urlsafe(16)
                fake.ssb_tokens[token] = identity
                return self._send(200, {"access_token": token, "token_type": "Bearer", "expires_in": 300})

        return Handler


def provider_settings(fake: FakeProviders, timeout: float = 0.4) -> dict[str, str]:
    return {
        "WECHAT_API_BASE": fake.base_url, "WECHAT_APPID": WECHAT_APPID, "WECHAT_SECRET": WECHAT_SECRET,
        "WECHAT_TIMEOUT_SECONDS": str(timeout),
        "SUISHENBAN_API_BASE": fake.base_url, "SUISHENBAN_CLIENT_ID": SSB_CLIENT_ID,
        "SUISHENBAN_CLIENT_SECRET": SSB_CLIENT_SECRET, "SUISHENBAN_TIMEOUT_SECONDS": str(timeout),
    }
