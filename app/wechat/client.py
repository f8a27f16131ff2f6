"""The client of WeChat's server API: JSON POSTs carrying the shared access token.

``call(path, body)`` returns WeChat's answer (any ``errcode`` but the ones handled here) or
raises ``WechatUnavailable``. Handled here:

- 40001/40014/42001 (token invalid or expired): fetch the token again in normal mode once
  and retry; if WeChat still rejects it (or hands back the same token), force a refresh
  (within the budget kept by ``tokens.TokenStore``) and retry once more.
- -1 (system busy), HTTP 5xx, timeouts and network errors: ``WechatUnavailable``. After
  ``breaker_failures`` of these in a row the client fails fast for ``breaker_seconds``
  (then lets one call through), so an outage costs a burst of deliveries a few timeouts,
  not one each, and the worker's other timers keep firing.

Nothing is logged but error codes: URLs carry the token, bodies carry personal data.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy.orm import Session

from app.clock import Clock
from app.db import Database
from app.http_json import post_json
from app.upstream import Breaker, client_for, errcode, exchange
from app.wechat.config import WechatConfig
from app.wechat.errors import NotConfigured, WechatUnavailable
from app.wechat.tokens import TokenStore

log = logging.getLogger("app.wechat")

TOKEN_ERRORS = frozenset({40001, 40014, 42001})


class WechatApi:
    def __init__(self, config: WechatConfig, database: Database, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.breaker = Breaker(config.breaker_failures, timedelta(seconds=config.breaker_seconds), clock,
                               unavailable=WechatUnavailable, log=log)
        self.tokens = TokenStore(database, clock, appid=config.appid or "-", fetch=self._fetch_token,
                                 margin=timedelta(seconds=config.token_margin_seconds))

    # ------------------------------------------------------------ transport

    def _post(self, path: str, body: dict[str, Any], params: dict[str, str] | None = None) -> dict[str, Any]:
        url = f"{self.config.base_url}/{path}"
        return exchange(self.breaker, path, lambda: post_json(url, body, timeout=self.config.timeout, params=params))

    def _fetch_token(self, force: bool) -> tuple[str, int]:
        if not self.config.configured:
            raise NotConfigured("WECHAT_APPID/WECHAT_SECRET not set")
        body = self._post("cgi-bin/stable_token", {
            "grant_type": "client_credential", "appid": self.config.appid, "secret": self.config.secret,
            "force_refresh": force,
        })
        code = errcode(body)
        token, expires_in = body.get("access_token"), body.get("expires_in")
        if code or not isinstance(token, str) or not token or not isinstance(expires_in, int) or expires_in <= 0:
            log.warning("wechat stable_token refused", extra={"errcode": code, "force": force})
            raise WechatUnavailable(f"stable_token: errcode {code}")
        return token, expires_in

    # ------------------------------------------------------------ API calls

    def call(self, path: str, body: dict[str, Any], *, session: Session | None = None) -> dict[str, Any]:
        """POST ``body`` to ``path`` with the access token; WeChat's answer (errcode not handled here)."""
        if not self.config.configured:
            raise NotConfigured("WECHAT_APPID/WECHAT_SECRET not set")
        self.breaker.before()  # fail fast before touching the token row
        token = self.tokens.token(session)
        answer = self._post(path, body, {"access_token": token})
        if errcode(answer) not in TOKEN_ERRORS:
            return answer
        log.info("wechat access token rejected: fetching again", extra={"errcode": errcode(answer)})
        fresh = self.tokens.refresh(session, failed=token)
        if fresh != token:
            answer = self._post(path, body, {"access_token": fresh})
            if errcode(answer) not in TOKEN_ERRORS:
                return answer
        forced = self.tokens.refresh(session, failed=fresh, force=True)
        answer = self._post(path, body, {"access_token": forced})
        if errcode(answer) in TOKEN_ERRORS:
            raise WechatUnavailable(f"{path}: token rejected after a force refresh")
        return answer


def wechat_api(app: Flask | None = None) -> WechatApi:
    """The app's client for its current settings (one per configuration, so the breaker and
    nothing else is per process; the token lives in the database)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    return client_for(app, "wechat_api", WechatConfig.from_settings(app.extensions["settings"]), WechatApi)


def reset_clients(app: Flask) -> None:
    """Forget the app's clients (and their breakers): tests."""
    app.extensions.pop("wechat_api", None)
