"""What authentication needs, kept per process and told of every change.

Every authenticated request needs its account's state, the refresh family's (revoked by a
logout), the staff member's membership in the acting organisation, or the device's row.
Each process keeps these for the principals it has seen in bounded LRU maps (a miss reads
the database, as every request once did), and drops an entry the moment the database says
it changed:

- **PostgreSQL**: triggers on ``accounts``, ``memberships``, ``refresh_tokens``, ``devices``
  and ``organisations`` call ``pg_notify('auth_changed', '<kind>:<key>@<epoch>')`` in the
  changing transaction, so the notification exists only if the change committed — whether it
  came from a request, the CLI, the worker or a hand-written ``UPDATE``. Each process holds
  one listening connection (``Listener``, a daemon thread). While it is not listening (not yet
  started, its connection dropped, the server restarted) the cache is bypassed: requests read
  the database as before, and the cache is emptied when listening resumes. Never stale-open.
- **SQLite** (one machine, one file): triggers bump a counter (``auth_changes``) in the
  changing transaction; each request reads it (a local read on a connection of its own, no
  network) and empties the cache when it moved. Simpler than a listener, exact, and the
  file is on the same disk anyway. (``PRAGMA data_version`` moves on every write to any
  table and would empty the cache under any load.)

A read that raced a change cannot put a stale value back: entries are stored only if no
invalidation arrived since the read began (``generation``).

Off under ``APP_ENV=test`` (test transactions roll back, so their changes never notify)
unless ``AUTH_CACHE=on``; ``AUTH_CACHE=off`` turns it off anywhere.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cachetools import LRUCache

from app.metrics import AUTH_LAG, AUTH_LOOKUPS

log = logging.getLogger("auth.cache")
_COUNTED = {result: AUTH_LOOKUPS.labels(result) for result in ("hit", "miss", "bypass")}

CHANNEL = "auth_changed"
DEFAULT_SIZE = 50_000
_MISS = object()


@dataclass(frozen=True)
class AccountFacts:
    id: int
    kind: str
    status: str
    person_id: int | None


@dataclass(frozen=True)
class MembershipFacts:
    org_id: int
    org_code: str
    org_type: str
    role: str


@dataclass(frozen=True)
class DeviceFacts:
    id: int
    uid: str
    kind: str
    status: str
    secret_hash: str
    org_id: int
    org_code: str
    org_type: str
    org_active: bool


@dataclass
class Stats:
    hits: int = 0
    misses: int = 0
    bypassed: int = 0
    invalidations: int = 0
    last_lag_seconds: float | None = None


class AuthCache:
    """The process's maps; thread-safe (the listener thread invalidates while requests read)."""

    def __init__(self, size: int = DEFAULT_SIZE, *, on_invalidate: Callable[[float | None], None] | None = None):
        self.accounts: LRUCache = LRUCache(size)  # account id → AccountFacts
        self.families: LRUCache = LRUCache(size)  # refresh family id → revoked?
        self.memberships: LRUCache = LRUCache(size)  # (account id, org code) → MembershipFacts | None
        self.devices: LRUCache = LRUCache(size)  # device uid → DeviceFacts (known devices only)
        self.generation = 0
        self.fresh = False
        """True while the source of invalidations is live (listening, or the counter read)."""
        self.stats = Stats()
        self._lock = threading.Lock()
        self._on_invalidate = on_invalidate

    # ------------------------------------------------------------ reads

    def lookup(self, table: LRUCache, key: Any) -> Any:
        """The cached value, or ``_MISS`` (also whenever the cache is not fresh). ``stats`` are
        counted under the lock: request threads (gthread workers) look up at once, and
        ``+= 1`` on an attribute is not atomic."""
        if not self.fresh:
            with self._lock:
                self.stats.bypassed += 1
            _COUNTED["bypass"].inc()
            return _MISS
        with self._lock:
            value = table.get(key, _MISS)
            if value is _MISS:
                self.stats.misses += 1
            else:
                self.stats.hits += 1
        _COUNTED["miss" if value is _MISS else "hit"].inc()
        return value

    def store(self, table: LRUCache, key: Any, value: Any, generation: int) -> None:
        """Keep ``value`` unless something was invalidated since it was read (``generation``)."""
        with self._lock:
            if self.fresh and generation == self.generation:
                table[key] = value

    # ------------------------------------------------------------ invalidation

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            for table in (self.accounts, self.families, self.memberships, self.devices):
                table.clear()

    def invalidate(self, message: str) -> None:
        """``<kind>:<key>[@<epoch seconds of the change>]`` from a trigger."""
        body, _, sent = message.partition("@")
        kind, _, key = body.partition(":")
        lag = None
        try:
            lag = max(0.0, time.time() - float(sent)) if sent else None
        except ValueError:
            lag = None
        with self._lock:
            self.generation += 1
            if kind == "account" and key.isdigit():
                account_id = int(key)
                self.accounts.pop(account_id, None)
                for k in [k for k in self.memberships if k[0] == account_id]:
                    self.memberships.pop(k, None)
            elif kind == "family":
                self.families.pop(key, None)
            elif kind == "device":
                self.devices.pop(key, None)
            else:  # an organisation, or anything unexpected: forget everything derived
                self.memberships.clear()
                self.devices.clear()
                if kind != "org":
                    self.accounts.clear()
                    self.families.clear()
            self.stats.invalidations += 1
            self.stats.last_lag_seconds = lag
        if lag is not None:
            AUTH_LAG.observe(lag)
        if self._on_invalidate is not None:
            self._on_invalidate(lag)


# ---------------------------------------------------------------- the PostgreSQL listener


class Listener:
    """One ``LISTEN auth_changed`` connection per process, in a daemon thread.

    ``cache.fresh`` is True only while listening; on any failure the cache is emptied and
    bypassed, the connection re-opened with a growing delay, the cache emptied again once
    listening, and only then trusted.
    """

    IDLE_CHECK_SECONDS = 5.0
    MAX_BACKOFF_SECONDS = 5.0

    def __init__(self, cache: AuthCache, dsn: str, *, application_name: str = "jinshan-auth-listener") -> None:
        self.cache = cache
        self.dsn = dsn
        self.application_name = application_name
        self.connection: Any = None
        self.reconnects = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="auth-cache-listener", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        conn = self.connection
        if conn is not None:
            try:
                conn.cancel_safe()
            except Exception:  # noqa: S110 (shutting down: the thread ends anyway)
                pass

    def wait_fresh(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.cache.fresh:
                return True
            time.sleep(0.01)
        return self.cache.fresh

    def _run(self) -> None:
        import psycopg

        delay = 0.1
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True, application_name=self.application_name,
                                     connect_timeout=5) as conn:
                    self.connection = conn
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.cache.clear()  # whatever changed while not listening
                    self.cache.fresh = True
                    delay = 0.1
                    log.info("auth cache listening")
                    while not self._stop.is_set():
                        got = False
                        for note in conn.notifies(timeout=self.IDLE_CHECK_SECONDS):
                            got = True
                            self.cache.invalidate(note.payload)
                        if not got:
                            conn.execute("SELECT 1")  # a silently dropped connection shows here
            except Exception as exc:  # any failure: stop trusting the cache, then reconnect
                if self._stop.is_set():
                    break
                log.warning("auth cache listener lost its connection; reading the database meanwhile",
                            extra={"error": type(exc).__name__})
            finally:
                self.cache.fresh = False
                self.cache.clear()
                self.connection = None
            if self._stop.is_set():
                break
            self.reconnects += 1
            self._stop.wait(delay)
            delay = min(delay * 2, self.MAX_BACKOFF_SECONDS)


# ---------------------------------------------------------------- the SQLite change counter


class CounterWatch:
    """SQLite: the ``auth_changes`` counter read before each authentication, on a connection
    of this process's own (a local file read). A moved counter empties the cache."""

    def __init__(self, cache: AuthCache, connect: Callable[[], Any]) -> None:
        self.cache = cache
        self._connect = connect
        self._local = threading.local()
        self.seen: int | None = None

    def check(self) -> None:
        conn = getattr(self._local, "conn", None)
        try:
            if conn is None:
                conn = self._local.conn = self._connect()
            row = conn.execute("SELECT counter FROM auth_changes WHERE id = 1").fetchone()
        except Exception as exc:  # unreadable: bypass this time
            self._local.conn = None
            self.cache.fresh = False
            log.warning("auth change counter unreadable", extra={"error": type(exc).__name__})
            return
        counter = row[0] if row else None
        if counter is None:
            self.cache.fresh = False
            return
        if counter != self.seen:
            self.cache.clear()
            self.seen = counter
        self.cache.fresh = True


MISS = _MISS


# ---------------------------------------------------------------- per process


class ProcessCache:
    """The app's cache in this process, started on first use in each process (gunicorn forks
    its workers after the app is built, and a thread does not survive a fork)."""

    def __init__(self, database: Any, size: int = DEFAULT_SIZE,
                 on_invalidate: Callable[[float | None], None] | None = None) -> None:
        self.database = database
        self.size = size
        self.on_invalidate = on_invalidate
        self._pid: int | None = None
        self._guard = threading.Lock()
        self.cache = AuthCache(size, on_invalidate=on_invalidate)
        self.listener: Listener | None = None
        self.watch: CounterWatch | None = None

    def _start(self) -> None:
        import os

        with self._guard:
            if self._pid == os.getpid():
                return
            self.cache = AuthCache(self.size, on_invalidate=self.on_invalidate)
            engine = self.database.engine
            if engine.dialect.name == "postgresql":
                dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
                self.listener = Listener(self.cache, dsn)
                self.listener.start()
                self.watch = None
            else:
                self.listener = None
                path = engine.url.database or ":memory:"
                self.watch = CounterWatch(self.cache, lambda: _sqlite_reader(path))
            self._pid = os.getpid()

    def current(self) -> AuthCache:
        import os

        if self._pid != os.getpid():
            self._start()
        if self.watch is not None:
            self.watch.check()
        return self.cache

    def stop(self) -> None:
        if self.listener is not None:
            self.listener.stop()


def _sqlite_reader(path: str) -> Any:
    import sqlite3

    return sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)


def enabled(settings: Any) -> bool:
    mode = (settings.get("AUTH_CACHE") or ("off" if settings.app_env == "test" else "on")).strip().lower()
    if mode not in ("on", "off"):
        raise ValueError(f"AUTH_CACHE must be on or off, not {mode!r}")
    return mode == "on"


def size_from(settings: Any) -> int:
    raw = (settings.get("AUTH_CACHE_SIZE") or str(DEFAULT_SIZE)).strip()
    try:
        return max(100, int(raw))
    except ValueError:
        raise ValueError(f"AUTH_CACHE_SIZE must be a whole number, not {raw!r}") from None
