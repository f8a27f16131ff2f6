"""Growing delays after failed password checks, by user name and by address (OWASP: throttle,
never lock out).

A *subject* collects failures: a user name, an address, or a user name at one of its known
addresses (``auth.known_addresses``). After ``SIGNIN_FREE_FAILURES`` failures (per address:
``SIGNIN_ADDRESS_FREE_FAILURES``) each further attempt must wait ``base · 2^k`` seconds
(``SIGNIN_DELAY_BASE_SECONDS``, doubling, capped at ``SIGNIN_DELAY_MAX_SECONDS``): the attempt
is answered 429 ``login_locked`` with ``Retry-After`` without the password being checked. A
success clears the user name's count; counts are forgotten ``SIGNIN_FORGET_SECONDS`` after the
first failure of a run. Nothing is ever locked for longer than the cap.

Where the state lives: in the rate-limit storage (Redis, or memory while Redis is down, see
``auth.ratelimit``), keyed by keyed hashes of the name and the address (no name or address in
Redis). The waits are ``limits`` windows of one attempt per delay: claiming the attempt is one
atomic increment, so a burst of parallel guesses gets one check per wait, not one each. The
subject is the *name as typed*, never the account: an unknown name is throttled exactly like
a known one, so the answers cannot tell them apart.
"""
from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from flask import current_app
from limits import RateLimitItemPerSecond
from limits.strategies import FixedWindowRateLimiter

from app.errors import ApiError
from auth import pii
from auth.ratelimit import limiter

DEFAULTS = {
    "SIGNIN_FREE_FAILURES": 3,
    "SIGNIN_ADDRESS_FREE_FAILURES": 10,
    "SIGNIN_DELAY_BASE_SECONDS": 1,
    "SIGNIN_DELAY_MAX_SECONDS": 300,
    "SIGNIN_FORGET_SECONDS": 24 * 3600,
}


def _setting(name: str) -> int:
    raw = current_app.extensions["settings"].get(name)
    return int(raw) if raw else DEFAULTS[name]


@dataclass(frozen=True)
class Subject:
    """Who collects failures: ``key`` (hashed) and how many failures are free."""

    key: str
    free: int


def name_subject(name: str) -> Subject:
    return Subject(f"name:{pii.lookup_hash('signin.name', name)[:32]}", _setting("SIGNIN_FREE_FAILURES"))


def address_subject(address: str) -> Subject:
    return Subject(f"addr:{address_hash(address)}", _setting("SIGNIN_ADDRESS_FREE_FAILURES"))


def known_address_subject(name: str, address: str) -> Subject:
    return Subject(f"known:{pii.lookup_hash('signin.name', name)[:32]}:{address_hash(address)}",
                   _setting("SIGNIN_FREE_FAILURES"))


def address_hash(address: str) -> str:
    """The keyed hash an address is stored and counted under (never the address itself)."""
    return pii.lookup_hash("signin.address", address)[:32]


def delay(failures: int, free: int) -> int:
    """Seconds to wait after ``failures`` failures: 0 while free, then base, 2·base, 4·base … cap."""
    if failures < free:
        return 0
    base, cap = _setting("SIGNIN_DELAY_BASE_SECONDS"), _setting("SIGNIN_DELAY_MAX_SECONDS")
    exponent = min(failures - free, 32)
    return max(1, min(base * 2 ** exponent, cap))


def _strategy() -> FixedWindowRateLimiter:
    return FixedWindowRateLimiter(limiter.storage)


def _failures_key(subject: Subject) -> str:
    return f"jinshan/signin-failures/{subject.key}"


def _failures(subject: Subject) -> int:
    return int(limiter.storage.get(_failures_key(subject)) or 0)


def _wait(failures: int, subject: Subject) -> RateLimitItemPerSecond | None:
    seconds = delay(failures, subject.free)
    return RateLimitItemPerSecond(1, seconds, namespace="SIGNIN") if seconds else None


def admit(subjects: Sequence[Subject]) -> None:
    """Refuse (429 ``login_locked``, ``Retry-After``) while any subject must wait; else claim the
    attempt (atomically: parallel attempts during a wait get one check between them)."""
    strategy = _strategy()
    for subject in subjects:
        n = _failures(subject)
        item = _wait(n, subject)
        if item is not None and not strategy.hit(item, subject.key, str(n)):
            reset = strategy.get_window_stats(item, subject.key, str(n)).reset_time
            raise ApiError("login_locked", headers=_retry_after(reset - time.time()))


def failed(subjects: Sequence[Subject]) -> dict[str, str]:
    """Count a failure for each subject and start the wait it earns; the ``Retry-After`` header of
    the longest wait (empty while failures are free)."""
    strategy, longest = _strategy(), 0
    for subject in subjects:
        n = int(limiter.storage.incr(_failures_key(subject), _setting("SIGNIN_FORGET_SECONDS")))
        item = _wait(n, subject)
        if item is not None:
            strategy.hit(item, subject.key, str(n))
            longest = max(longest, item.get_expiry())
    return _retry_after(longest) if longest else {}


def succeeded(subjects: Sequence[Subject]) -> None:
    """The password was right: forget these subjects' failures."""
    for subject in subjects:
        limiter.storage.clear(_failures_key(subject))


def _retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}
