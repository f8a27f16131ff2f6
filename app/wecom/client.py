"""The client of WeCom's server API: the application's access token and ``message/send``.

- The token: ``GET {base}/cgi-bin/gettoken?corpid=…&corpsecret=…`` →
  ``{"errcode": 0, "access_token": …, "expires_in": 7200}``, kept in the row of
  ``app.wechat.tokens.TokenStore`` keyed ``wecom:<corpid>:<agentid>`` and shared by every
  process exactly as WeChat's is (renewed 5 minutes before it expires, one process at a time).
  WeCom has no force refresh: within its validity ``gettoken`` hands back the same token.
- ``send(body)``: ``POST {base}/cgi-bin/message/send?access_token=…``. On 40014, 42001 or
  41001 (the token is invalid, expired or missing) the token is fetched again once (unless
  another process already replaced it) and the message sent again, in the same call; a
  second rejection raises ``WecomUnavailable``.
- -1 (system busy), HTTP 5xx, timeouts and network errors raise ``WecomUnavailable``; after
  ``breaker_failures`` of these in a row the client fails fast for ``breaker_seconds``
  (then lets one call through), so an outage costs a burst of deliveries a few timeouts.

Nothing is logged but error codes: URLs carry the token or the secret, bodies the user id.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy.orm import Session

from app.clock import Clock
from app.db import Database
from app.http_json import get_json, post_json
from app.upstream import Breaker, client_for, errcode, exchange
from app.wechat.tokens import TokenStore
from app.wecom.config import WecomConfig
from app.wecom.errors import WecomUnavailable

log = logging.getLogger("app.wecom")

TOKEN_PATH = "cgi-bin/gettoken"  # noqa: S105 (a path, not a secret)
SEND_PATH = "cgi-bin/message/send"
TOKEN_ERRORS = frozenset({40014, 42001, 41001})  # invalid, expired, missing access_token


class WecomApi:
    def __init__(self, config: WecomConfig, database: Database, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.breaker = Breaker(config.breaker_failures, timedelta(seconds=config.breaker_seconds), clock,
                               unavailable=WecomUnavailable, log=log)
        self.tokens = TokenStore(database, clock, appid=config.token_key, fetch=self._fetch_token)

    # ------------------------------------------------------------ transport

    def _fetch_token(self, force: bool) -> tuple[str, int]:
        """``TokenStore``'s fetch (``force`` is never asked for: WeCom has no force refresh)."""
        if not self.config.configured:
            raise WecomUnavailable("WeCom not configured")
        url = f"{self.config.base_url}/{TOKEN_PATH}"
        params = {"corpid": self.config.corp_id, "corpsecret": self.config.secret}
        body = exchange(self.breaker, TOKEN_PATH, lambda: get_json(url, timeout=self.config.timeout, params=params))
        code, token, expires_in = errcode(body), body.get("access_token"), body.get("expires_in")
        if code != 0 or not isinstance(token, str) or not token or not isinstance(expires_in, int) or expires_in <= 0:
            log.warning("wecom gettoken refused", extra={"errcode": code})
            raise WecomUnavailable(f"gettoken: errcode {code}")
        return token, expires_in

    def _post(self, path: str, body: dict[str, Any], token: str) -> dict[str, Any]:
        url = f"{self.config.base_url}/{path}"
        params = {"access_token": token}
        return exchange(self.breaker, path, lambda: post_json(url, body, timeout=self.config.timeout, params=params))

    # ------------------------------------------------------------ API calls

    def call(self, path: str, body: dict[str, Any], *, session: Session | None = None) -> dict[str, Any]:
        """POST ``body`` to ``path`` with the access token; WeCom's answer (errcode not handled here)."""
        if not self.config.configured:
            raise WecomUnavailable("WeCom not configured")
        self.breaker.before()  # fail fast before touching the token row
        token = self.tokens.token(session)
        answer = self._post(path, body, token)
        if errcode(answer) not in TOKEN_ERRORS:
            return answer
        log.info("wecom access token rejected: fetching again", extra={"errcode": errcode(answer)})
        fresh = self.tokens.refresh(session, failed=token)
        if fresh == token:
            raise WecomUnavailable(f"{path}: token rejected and gettoken gave it back")
        answer = self._post(path, body, fresh)
        if errcode(answer) in TOKEN_ERRORS:
            raise WecomUnavailable(f"{path}: token rejected after a refetch (errcode {errcode(answer)})")
        return answer

    def send(self, body: dict[str, Any], *, session: Session | None = None) -> dict[str, Any]:
        return self.call(SEND_PATH, body, session=session)


def wecom_api(app: Flask | None = None) -> WecomApi:
    """The app's client for its current settings (one per configuration, so the breaker is per
    process; the token lives in the database). Raises ``ConfigError`` on malformed settings."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    return client_for(app, "wecom_api", WecomConfig.from_settings(app.extensions["settings"]), WecomApi)


def reset_clients(app: Flask) -> None:
    """Forget the app's clients (and their breakers): tests."""
    app.extensions.pop("wecom_api", None)
