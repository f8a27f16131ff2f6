"""What the clients of Tencent's server APIs (WeChat, WeCom) share: reading an ``errcode``,
a circuit breaker, and one HTTP exchange through it.

An exchange raises the client's own "unavailable" exception on a network error, a timeout,
HTTP 5xx or errcode -1 (system busy), each counted by the breaker; after ``failures`` of them
in a row the breaker fails fast for ``cool_off`` (then lets one call through), so an outage
costs a burst of deliveries a few timeouts, not one each. Any other answer closes it.

Nothing is logged but counts: URLs carry tokens and secrets, bodies personal data.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from app.clock import Clock
from app.http_json import Answer, Unreachable

SYSTEM_BUSY = -1


def errcode(answer: dict[str, Any]) -> int:
    """The answer's ``errcode`` (0 when absent; unreadable counts as system busy)."""
    value = answer.get("errcode", 0)
    try:
        return int(value)
    except (TypeError, ValueError):
        return SYSTEM_BUSY


class Breaker:
    """Opens after ``failures`` consecutive outages; half-opens after ``cool_off``.

    ``unavailable`` is the exception raised while open; ``log`` names the service in the one
    warning written when it opens.
    """

    def __init__(self, failures: int, cool_off: timedelta, clock: Clock, *,
                 unavailable: type[Exception], log: logging.Logger) -> None:
        self.failures = max(1, failures)
        self.cool_off = cool_off
        self.clock = clock
        self.unavailable = unavailable
        self.log = log
        self._count = 0
        self._open_until: datetime | None = None
        self._lock = threading.Lock()

    def before(self) -> None:
        with self._lock:
            if self._open_until is not None and self.clock.now() < self._open_until:
                raise self.unavailable("circuit open")

    def failure(self) -> None:
        with self._lock:
            self._count += 1
            if self._count >= self.failures:
                if self._open_until is None or self.clock.now() >= self._open_until:
                    self.log.warning(f"{self.log.name.rsplit('.', 1)[-1]} unavailable: failing fast",
                                     extra={"seconds": self.cool_off.total_seconds()})
                self._open_until = self.clock.now() + self.cool_off

    def success(self) -> None:
        with self._lock:
            self._count = 0
            self._open_until = None

    @property
    def is_open(self) -> bool:
        return self._open_until is not None and self.clock.now() < self._open_until


def exchange(breaker: Breaker, path: str, request: Callable[[], Answer]) -> dict[str, Any]:
    """Run ``request()`` (one HTTP exchange) through ``breaker``; the service's JSON answer."""
    breaker.before()
    try:
        answer = request()
    except Unreachable as exc:
        breaker.failure()
        raise breaker.unavailable(f"{path}: {exc}") from exc
    if answer.status >= 500 or errcode(answer.body) == SYSTEM_BUSY:
        breaker.failure()
        raise breaker.unavailable(f"{path}: busy (HTTP {answer.status}, errcode {errcode(answer.body)})")
    breaker.success()
    if answer.status >= 400:
        raise breaker.unavailable(f"{path}: HTTP {answer.status}")
    return answer.body


_build_lock = threading.Lock()


def client_for(app: Any, key: str, config: Any, build: Callable[[Any, Any, Clock], Any]) -> Any:
    """The app's client for ``config`` (one per configuration and process, so its breaker is
    per process; tokens live in the database), built by ``build(config, database, clock)``.
    Built under a lock: two threads (gthread workers) must not each build one and count
    failures on a breaker the other replaced."""
    clients: dict[Any, Any] = app.extensions.setdefault(key, {})
    client = clients.get(config)
    if client is None:
        with _build_lock:
            client = clients.get(config)
            if client is None:
                client = clients[config] = build(config, app.extensions["db"], app.extensions["clock"])
    return client
