"""A local HTTP server speaking WeCom's server API (the parts we use).

``GET /cgi-bin/gettoken?corpid=&corpsecret=`` answers the current token while it is valid
(WeCom: "有效期内重复获取返回相同结果") and a new one once it was revoked or has expired;
a wrong corpid is 40013, a wrong secret 40001. ``POST /cgi-bin/message/send?access_token=``:
no token is 41001, a token not issued (or revoked) 40014, an expired one 42001; the body must
be a ``textcard`` to one user of the application ``AGENT_ID`` with a title of at most 128
bytes, a description of at most 512 bytes, a URL and a button text of at most 4 characters
(WeCom would truncate blindly: the fake refuses with 44004/40058 so that tests prove we cut).
A user not in ``users`` (case-insensitive) is answered 81013 with ``invaliduser``.

Tests steer it: ``add_user()``, ``token_delay`` (gettoken answers that late), ``outage``
(every answer is ``errcode -1``, gettoken included), ``script`` (for the next sends, in order:
an errcode; ``"invaliduser"`` — errcode 0 naming the user in ``invaliduser``; ``"unlicensed"``
— errcode 0 naming it in ``unlicenseduser``; ``"http500"``; ``"slow"`` — not delivered,
answered late; ``"lost"`` — delivered, answered late), ``revoke_current()`` (WeCom
invalidated the token early), ``expire_current()``.

A fake lives for the whole session (of one xdist worker), so ``reset()`` first waits for the
requests still being answered (a late answer must not land in the next test).
"""
from __future__ import annotations

import json
import secrets
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.fake_wechat import SLOW_SECONDS, _Server

CORP_ID = "ww-test-corp"
AGENT_ID = 1000002
SECRET = "wecom-test-secret"
TITLE_MAX_BYTES = 128
DESCRIPTION_MAX_BYTES = 512
SEND_PATH = "/cgi-bin/message/send"
TOKEN_PATH = "/cgi-bin/gettoken"


class FakeWecom(_Server):
    def __init__(self) -> None:
        super().__init__()
        self.reset()

    def reset(self) -> None:
        self.wait_quiet()
        self.expires_in = 7200
        self.current: str | None = None
        self.valid: set[str] = set()
        self.expired: set[str] = set()
        self.users: set[str] = set()
        self.token_calls = 0  # successful or not, every gettoken that reached the fake
        self.token_delay = 0.0
        self.outage = False
        self.script: list[int | str] = []
        self.sent: list[dict[str, Any]] = []
        self.api_calls: list[tuple[str, str]] = []  # (path, token used)

    # ------------------------------------------------------------ steering

    def add_user(self, userid: str) -> None:
        with self.lock:
            self.users.add(userid.lower())

    def revoke_current(self) -> None:
        with self.lock:
            self.valid.discard(self.current or "")

    def expire_current(self) -> None:
        with self.lock:
            self.expired.add(self.current or "")

    # ------------------------------------------------------------ transport

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self
        base = super()._handler()

        class Handler(base):  # type: ignore[valid-type,misc]
            def do_GET(self) -> None:
                fake._enter()
                try:
                    url = urllib.parse.urlsplit(self.path)
                    status, answer = fake.handle_get(url.path, dict(urllib.parse.parse_qsl(url.query)))
                    self.send_json(status, answer)
                finally:
                    fake._leave()

        return Handler

    # ------------------------------------------------------------ protocol

    def handle_get(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if path != TOKEN_PATH:
            return 404, {"errcode": 404, "errmsg": "not found"}
        if self.token_delay:
            time.sleep(self.token_delay)
        with self.lock:
            self.token_calls += 1
            if self.outage:
                return 200, {"errcode": -1, "errmsg": "system busy"}
            if query.get("corpid") != CORP_ID:
                return 200, {"errcode": 40013, "errmsg": "invalid corpid"}
            if query.get("corpsecret") != SECRET:
                return 200, {"errcode": 40001, "errmsg": "invalid secret"}
            if self.current is None or self.current not in self.valid or self.current in self.expired:
                self.current = "wc-" + secrets.token_hex(12)
                self.valid = {self.current}
            return 200, {"errcode": 0, "errmsg": "ok", "access_token": self.current, "expires_in": self.expires_in}

    def handle(self, path: str, query: dict[str, str], body: Any, raw: bytes,
               headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        token = query.get("access_token", "")
        with self.lock:
            self.api_calls.append((path, token))
            if self.outage:
                return 200, {"errcode": -1, "errmsg": "system busy"}
            if not token:
                return 200, {"errcode": 41001, "errmsg": "access_token missing"}
            if token in self.expired:
                return 200, {"errcode": 42001, "errmsg": "access_token expired"}
            if token not in self.valid:
                return 200, {"errcode": 40014, "errmsg": "invalid access_token"}
        if path != SEND_PATH:
            return 404, {"errcode": 404, "errmsg": "not found"}
        with self.lock:
            step = self.script.pop(0) if self.script else 0
        if step == "http500":
            return 500, {"errcode": -1, "errmsg": "internal error"}
        if step == "slow":  # an answer after the client's timeout: not delivered
            time.sleep(SLOW_SECONDS)
            return 200, {"errcode": -1, "errmsg": "system busy"}
        if step == "lost":  # delivered, but the answer comes after the client's timeout
            answer = self._deliver(body)
            time.sleep(SLOW_SECONDS)
            return 200, answer
        if step == "invaliduser":
            return 200, {"errcode": 0, "errmsg": "ok", "invaliduser": str(body.get("touser")), "msgid": "x"}
        if step == "unlicensed":
            return 200, {"errcode": 0, "errmsg": "ok", "invaliduser": "", "unlicenseduser": str(body.get("touser")),
                         "msgid": "x"}
        if step:
            return 200, {"errcode": step, "errmsg": "scripted"}
        return 200, self._deliver(body)

    def _deliver(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or body.get("msgtype") != "textcard":
            return {"errcode": 40008, "errmsg": "invalid message type"}
        if body.get("agentid") != AGENT_ID or isinstance(body.get("agentid"), bool):
            return {"errcode": 40056, "errmsg": "invalid agentid"}
        touser = body.get("touser")
        if not isinstance(touser, str) or not touser or "|" in touser or touser.lower() == "@all":
            return {"errcode": 40058, "errmsg": "touser must name one user"}
        card = body.get("textcard")
        if not isinstance(card, dict):
            return {"errcode": 40058, "errmsg": "textcard missing"}
        title, description, url = card.get("title"), card.get("description"), card.get("url")
        if not title or not description or not url:
            return {"errcode": 44004, "errmsg": "textcard title, description and url are required"}
        if len(title.encode()) > TITLE_MAX_BYTES or len(description.encode()) > DESCRIPTION_MAX_BYTES:
            return {"errcode": 40058, "errmsg": "textcard title or description exceeds limit"}
        if not str(url).startswith(("http://", "https://")) or len(str(url).encode()) > 2048:
            return {"errcode": 40058, "errmsg": "invalid url"}
        if len(str(card.get("btntxt", ""))) > 4:
            return {"errcode": 40058, "errmsg": "btntxt exceeds 4 characters"}
        with self.lock:
            if touser.lower() not in self.users:
                return {"errcode": 81013, "errmsg": "user & party & tag all invalid", "invaliduser": touser}
            self.sent.append(json.loads(json.dumps(body)))
            return {"errcode": 0, "errmsg": "ok", "invaliduser": "", "invalidparty": "", "invalidtag": "",
                    "unlicenseduser": "", "msgid": f"msg-{len(self.sent)}", "response_code": "rc"}
