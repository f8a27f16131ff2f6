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
import threading
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy.orm import Session

from app.clock import Clock
from app.db import Database
from app.http_json import Unreachable, post_json
from app.wechat.config import WechatConfig
from app.wechat.errors import NotConfigured, WechatUnavailable
from app.wechat.tokens import TokenStore

log = logging.getLogger("app.wechat")

TOKEN_ERRORS = frozenset({40001, 40014, 42001})
SYSTEM_BUSY = -1


def errcode(answer: dict[str, Any]) -> int:
    value = answer.get("errcode", 0)
    try:
        return int(value)
    except (TypeError, ValueError):
        return SYSTEM_BUSY


class Breaker:
    """Opens after ``failures`` consecutive outages; half-opens after ``cool_off``."""

    def __init__(self, failures: int, cool_off: timedelta, clock: Clock) -> None:
        self.failures = max(1, failures)
        self.cool_off = cool_off
        self.clock = clock
        self._count = 0
        self._open_until: datetime | None = None
        self._lock = threading.Lock()

    def before(self) -> None:
        with self._lock:
            if self._open_until is not None and self.clock.now() < self._open_until:
                raise WechatUnavailable("circuit open")

    def failure(self) -> None:
        with self._lock:
            self._count += 1
            if self._count >= self.failures:
                if self._open_until is None or self.clock.now() >= self._open_until:
                    log.warning("wechat unavailable: failing fast", extra={"seconds": self.cool_off.total_seconds()})
                self._open_until = self.clock.now() + self.cool_off

    def success(self) -> None:
        with self._lock:
            self._count = 0
            self._open_until = None

    @property
    def is_open(self) -> bool:
        return self._open_until is not None and self.clock.now() < self._open_until


class WechatApi:
    def __init__(self, config: WechatConfig, database: Database, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.breaker = Breaker(config.breaker_failures, timedelta(seconds=config.breaker_seconds), clock)
        self.tokens = TokenStore(database, clock, appid=config.appid or "-", fetch=self._fetch_token,
                                 margin=timedelta(seconds=config.token_margin_seconds))

    # ------------------------------------------------------------ transport

    def _post(self, path: str, body: dict[str, Any], params: dict[str, str] | None = None) -> dict[str, Any]:
        self.breaker.before()
        try:
            answer = post_json(f"{self.config.base_url}/{path}", body, timeout=self.config.timeout, params=params)
        except Unreachable as exc:
            self.breaker.failure()
            raise WechatUnavailable(f"{path}: {exc}") from exc
        if answer.status >= 500 or errcode(answer.body) == SYSTEM_BUSY:
            self.breaker.failure()
            raise WechatUnavailable(f"{path}: busy (HTTP {answer.status}, errcode {errcode(answer.body)})")
        self.breaker.success()
        if answer.status >= 400:
            raise WechatUnavailable(f"{path}: HTTP {answer.status}")
        return answer.body

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
    config = WechatConfig.from_settings(app.extensions["settings"])
    clients: dict[WechatConfig, WechatApi] = app.extensions.setdefault("wechat_api", {})
    client = clients.get(config)
    if client is None:
        client = clients[config] = WechatApi(config, app.extensions["db"], app.extensions["clock"])
    return client


def reset_clients(app: Flask) -> None:
    """Forget the app's clients (and their breakers): tests."""
    app.extensions.pop("wechat_api", None)
