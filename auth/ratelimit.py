"""Rate limits (Flask-Limiter) keyed by the principal, or by the address when anonymous.

Storage: Redis when ``REDIS_URL`` is set, memory otherwise. Every call to Redis goes through
``FallbackStorage``: when Redis fails (down, timeout) the call is answered from memory and
Redis is retried after ``RETRY_SECONDS``, so an outage never turns into a 500 and the route
limits keep applying (per process) meanwhile. The limiter itself is one module-level object
whose storage is looked up per app (``AppStorage``), so several apps in one process (tests)
keep separate counters.

Routes opt in with ``@rate_limit("login")``; the named limits below can be overridden with
settings ``RATELIMIT_<NAME>`` (e.g. ``RATELIMIT_LOGIN="5/minute"``). ``RATELIMIT_ENABLED=0``
turns limits off. ``RATELIMIT_DEFAULT`` (unset by default) puts a limit on every other route,
per route and caller; ``@exempt`` marks a route that must never be limited (elderly SOS).
Without a default limit, only the decorated views pay for a check (their decorator makes it).
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, Response, current_app, g, request
from flask_limiter import Limiter, RateLimitExceeded
from limits.storage import MemoryStorage, Storage, storage_from_string

from app.api import error_response
from app.config import _truthy
from app.errors import ApiError

log = logging.getLogger("auth.ratelimit")

RETRY_SECONDS = 5.0
REDIS_TIMEOUT_SECONDS = 0.25

# Generous for people, tight for scripts. Anonymous callers are counted per address, and
# many phones share one carrier address (CGNAT), so login limits stay high per address;
# guessing that matters (passwords, ID numbers) has its own per-account limits too.
DEFAULT_LIMITS: dict[str, str] = {
    "login": "30/minute;300/hour",
    "staff_login": "10/minute;60/hour",
    # Password reset per user name (each request may send an SMS). Sign-in itself has no
    # per-name request limit: its failures earn growing waits instead (auth/signin_throttle.py).
    "password_reset_user": "20/hour",
    "refresh": "30/minute;600/hour",
    "identity": "10/hour;30/day",
    "claim": "20/hour;50/day",
    "manage": "60/minute",
    # Staff contact points: each new work mobile is sent an SMS code.
    "contact": "10/hour;30/day",
    # QR (qr/routes.py): a personal code is refreshed about every 45 s while shown, so a
    # resident needs ~2 a minute; the limit only stops scripts. (Scanning is not limited:
    # POST /api/v1/qr/verify and sentinel scans are @exempt.)
    "qr_personal": "30/minute;600/hour",
    # Staff reveals of a resident's phone / ID number, per staff member (all organisations).
    "reveal": "20/hour;100/day",
}


class FallbackStorage:
    """Redis with an in-memory stand-in while Redis is failing."""

    def __init__(self, uri: str | None) -> None:
        self.memory = MemoryStorage()
        self.primary: Storage | None = None
        if uri:
            self.primary = storage_from_string(
                uri, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS)
        self._dead_until = 0.0
        self._lock = threading.Lock()

    @property
    def using_memory(self) -> bool:
        return self.primary is None or time.monotonic() < self._dead_until

    def call(self, name: str, *args: Any, **kw: Any) -> Any:
        if not self.using_memory:
            try:
                return getattr(self.primary, name)(*args, **kw)
            except Exception as exc:  # any storage failure: fall back, never fail the request
                with self._lock:
                    if time.monotonic() >= self._dead_until:
                        log.warning("rate-limit storage unreachable, using memory",
                                    extra={"error": type(exc).__name__})
                    self._dead_until = time.monotonic() + RETRY_SECONDS
        return getattr(self.memory, name)(*args, **kw)


class AppStorage(Storage):
    """The current app's ``FallbackStorage``, behind the interface the limiter expects."""

    STORAGE_SCHEME = ["jinshan-app"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions)

    @property
    def base_exceptions(self) -> tuple[type[Exception], ...]:
        return (RuntimeError,)

    @staticmethod
    def _target() -> FallbackStorage:
        return current_app.extensions["ratelimit_storage"]

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return self._target().call("incr", key, expiry, amount=amount)

    def get(self, key: str) -> int:
        return self._target().call("get", key)

    def get_expiry(self, key: str) -> float:
        return self._target().call("get_expiry", key)

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        target = self._target()
        target.memory.reset()
        return target.call("reset") if target.primary is not None else None

    def clear(self, key: str) -> None:
        self._target().call("clear", key)


def rate_key() -> str:
    principal = g.get("principal")
    if principal is not None and not principal.is_anonymous:
        return principal.scope_key
    return f"ip:{request.remote_addr or '-'}"


def staff_member_key() -> str:
    """One bucket per staff account, whichever organisation it acts for."""
    principal = g.get("principal")
    if principal is not None and principal.kind == "staff" and principal.account_id is not None:
        return f"staff:{principal.account_id}"
    return rate_key()


def username_key() -> str:
    body = request.get_json(silent=True) if request.is_json else request.form  # the console posts a form
    name = body.get("username") if isinstance(body, dict) or body is request.form else None
    return f"user:{str(name).strip().lower()[:64]}" if name else rate_key()


def _default_limit() -> str:
    return current_app.extensions["settings"].get("RATELIMIT_DEFAULT") or "1000000/second"


def _no_default_limit() -> bool:
    return not current_app.extensions["settings"].get("RATELIMIT_DEFAULT")


limiter = Limiter(
    key_func=rate_key,
    default_limits=[_default_limit],
    default_limits_exempt_when=_no_default_limit,
    storage_uri="jinshan-app://",
    strategy="fixed-window",
    headers_enabled=False,
    swallow_errors=True,
    key_prefix="jinshan",
)


def exempt(view: Callable) -> Callable:
    """Never rate-limit this view (a function or a MethodView method), whatever the limits."""
    view._ratelimit_exempt = True  # type: ignore[attr-defined]
    return view


def _is_exempt() -> bool:
    fn = current_app.view_functions.get(request.endpoint or "")
    view_class = getattr(fn, "view_class", None)
    target = getattr(view_class, request.method.lower(), None) if view_class is not None else fn
    return bool(getattr(target, "_ratelimit_exempt", False))


@limiter.request_filter
def _skip() -> bool:
    if not _truthy(current_app.extensions["settings"].get("RATELIMIT_ENABLED", "1")):
        return True
    return _is_exempt()


def _limit_value(name: str) -> Callable[[], str]:
    def value() -> str:
        return current_app.extensions["settings"].get(f"RATELIMIT_{name.upper()}") or DEFAULT_LIMITS[name]

    return value


def rate_limit(name: str, *, key_func: Callable[[], str] | None = None, shared: bool = False) -> Callable:
    """Decorate a view with the named limit (see ``DEFAULT_LIMITS``). ``shared``: one
    counter per caller for every view with this name (else one per view)."""
    if shared:
        return limiter.shared_limit(_limit_value(name), scope=name, key_func=key_func or rate_key)
    return limiter.limit(_limit_value(name), key_func=key_func or rate_key, scope=name)



def _too_many(exc: RateLimitExceeded) -> Response:
    current = limiter.current_limit
    retry = 60
    if current is not None:
        try:
            retry = max(1, math.ceil(current.window.reset_time - time.time()))
        except Exception:  # the window could not be read: a conservative default
            retry = 60
    return error_response(ApiError("rate_limited", headers={"Retry-After": str(retry)}))


def install(app: Flask) -> None:
    settings = app.extensions["settings"]
    app.extensions["ratelimit_storage"] = FallbackStorage(settings.redis_url)
    limiter.init_app(app)
    _only_where_a_limit_applies(app)
    app.register_error_handler(RateLimitExceeded, _too_many)


def _ours(hook: Callable) -> bool:
    """A request hook the limiter registered (a bound method, or a partial over it)."""
    return getattr(hook, "__self__", None) is limiter or limiter in getattr(hook, "args", ())


def _when_a_default_limit_is_set(hook: Callable) -> Callable:
    @wraps(hook)
    def run(*args: Any) -> Any:
        if current_app.extensions["settings"].get("RATELIMIT_DEFAULT"):
            return hook(*args)
        return args[0] if args else None  # an after-request hook hands the response on

    return run


def _only_where_a_limit_applies(app: Flask) -> None:
    """Without a default limit only decorated views have limits, and their decorator checks them
    itself. The limiter's hooks around every request would resolve an empty set of limits,
    look for response headers we turned off and reset per-request state that dies with the
    request anyway: a third of an unlimited request's time. So they run only while a default
    limit is set, and an unlimited route pays one settings lookup."""
    for hooks in (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs):
        hooks[None] = [_when_a_default_limit_is_set(f) if _ours(f) else f for f in hooks.get(None, [])]


def reset(app: Flask) -> None:
    """Forget all counters of ``app`` (tests)."""
    with app.app_context():
        target: FallbackStorage = app.extensions["ratelimit_storage"]
        target.memory.reset()
        if target.primary is not None and not target.using_memory:
            try:
                target.primary.reset()
            except Exception:  # noqa: S110 (tests only; memory is reset anyway)
                pass
