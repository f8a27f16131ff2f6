"""Engine, sessions, declarative base, the UTC datetime type and the common mixins.

SQLite: WAL, foreign keys, a busy timeout, and ``BEGIN IMMEDIATE`` for write transactions
only (read transactions take a plain ``BEGIN`` so they never queue behind writers).
PostgreSQL: psycopg 3; a pooled connection is checked before use (``_check_liveness``), so
a database restart costs no failed request.
"""
from __future__ import annotations

import select
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app, g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""A 64-bit id that still auto-increments on SQLite (only INTEGER PRIMARY KEY does)."""


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(sa.types.TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on both databases.

    PostgreSQL stores ``timestamptz``; SQLite stores naive UTC text in one format, which
    sorts and compares correctly as text. Naive datetimes are refused: they are bugs.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class IdMixin:
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False
    )


def normalise_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 here."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if mode == "immediate" else "BEGIN")


PING_AFTER_IDLE_SECONDS = 30.0


def _socket_readable(dbapi_connection: Any) -> bool:
    """Whether the server sent something to an idle connection: a terminated backend's
    error and end of file (restart, ``pg_terminate_backend``). A closed connection counts."""
    try:
        fd = dbapi_connection.fileno()
    except Exception:  # closed or broken: let the ping decide
        return True
    if fd < 0:
        return True
    return bool(select.select([fd], [], [], 0)[0])


def _check_liveness(engine: Engine) -> None:
    """Ping a pooled connection before use only when it may be dead, instead of on every
    checkout (``pool_pre_ping`` costs a round trip per request): when the server has written
    to it while idle (a terminated backend leaves its error and EOF on the socket, seen
    without a round trip) or when it sat idle for ``PING_AFTER_IDLE_SECONDS`` (a firewall may
    have dropped it silently). A failed ping raises ``DisconnectionError``: the pool discards
    the connection and checks out a fresh one (SQLAlchemy's documented pessimistic recipe)."""

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None:  # a fresh connection
            return
        if time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS and not _socket_readable(dbapi_connection):
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise sa.exc.DisconnectionError("the pooled connection is dead") from exc


def create_engine(url: str, **kw: Any) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 10}, **kw)
        _configure_sqlite(engine)
    else:
        if "poolclass" not in kw:  # NullPool (the tests' admin engine) takes no size
            kw.setdefault("pool_size", 10)
            kw.setdefault("max_overflow", 10)
        engine = sa.create_engine(url, **kw)
        if not kw.get("pool_pre_ping"):
            _check_liveness(engine)
    return engine


class Database:
    """Holds the engine and hands out read and write sessions.

    Tests may ``bind_to(connection)`` so every session joins an outer transaction through
    a savepoint that the test rolls back.
    """

    def __init__(self, url: str, **engine_kw: Any) -> None:
        self.engine = create_engine(url, **engine_kw)
        self.write_engine = self.engine.execution_options(sqlite_begin="immediate")
        self._bound: Connection | None = None
        self._read = sessionmaker(bind=self.engine, expire_on_commit=False)
        self._write = sessionmaker(bind=self.write_engine, expire_on_commit=False)
        # PostgreSQL only: SQLite keeps its BEGIN IMMEDIATE write transactions.
        self._autocommit = (sessionmaker(bind=self.engine.execution_options(isolation_level="AUTOCOMMIT"),
                                         expire_on_commit=False)
                            if self.engine.dialect.name == "postgresql" else None)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def bind_to(self, connection: Connection | None) -> None:
        self._bound = connection

    def new_session(self, *, write: bool = True, autocommit: bool = False) -> Session:
        """``autocommit``: each statement commits on its own (PostgreSQL; see
        ``single_statements``); elsewhere, and when bound for a test, an ordinary session."""
        if self._bound is not None:
            return Session(
                bind=self._bound, join_transaction_mode="create_savepoint", expire_on_commit=False
            )
        if autocommit and self._autocommit is not None:
            return self._autocommit()
        return (self._write if write else self._read)()

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error."""
        session = self.new_session(write=write)
        try:
            with session.begin():
                yield session
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def get_db() -> Database:
    return current_app.extensions["db"]


def writes(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a GET view that writes (e.g. issuing a code while drawing it): its request gets a
    write session, so on SQLite it begins ``IMMEDIATE`` instead of failing to upgrade a read
    transaction under concurrency."""
    view._db_writes = True  # type: ignore[attr-defined]
    return view


def single_statements(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a hot view in which every statement stands alone: whatever it writes is one
    statement (a CTE may do several things at once) and nothing it reads must agree with
    what it writes. On PostgreSQL its request's session runs in autocommit, which saves the
    BEGIN and COMMIT round trips (half of a scan's). Authentication's read runs in it too.
    A view that writes twice, or reads then writes what it read, must not use this."""
    view._db_autocommit = True  # type: ignore[attr-defined]
    return view


def _view_target() -> Any:
    func = current_app.view_functions.get(request.endpoint or "")
    cls = getattr(func, "view_class", None)
    return getattr(cls, request.method.lower(), None) if cls is not None else func


def _request_writes(target: Any) -> bool:
    return request.method not in {"GET", "HEAD", "OPTIONS"} or bool(getattr(target, "_db_writes", False))


def get_session() -> Session:
    """The request's session: write mode for unsafe methods and ``@writes`` views, else
    read; on PostgreSQL, autocommit for reads and for ``@single_statements`` views."""
    if "db_session" not in g:
        if not has_request_context():
            g.db_session = get_db().new_session(write=True)
        else:
            target = _view_target()
            write = _request_writes(target)
            # A read request runs in autocommit on PostgreSQL: under READ COMMITTED each of its
            # statements takes a fresh snapshot anyway, so BEGIN and ROLLBACK buy nothing but
            # two round trips.
            g.db_session = get_db().new_session(
                write=write, autocommit=not write or bool(getattr(target, "_db_autocommit", False)))
    return g.db_session


def close_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


# ---------------------------------------------------------------- portability helpers


def dialect_of(session: Session) -> str:
    return session.get_bind().dialect.name


def insert_for(session: Session, table: Any) -> Any:
    """``INSERT`` with ``ON CONFLICT`` support on either database (PostgreSQL's or SQLite's)."""
    from sqlalchemy.dialects import postgresql, sqlite

    return (postgresql.insert if dialect_of(session) == "postgresql" else sqlite.insert)(table)


def hours_since_epoch(session: Session, column: Any) -> sa.ColumnElement[int]:
    """Whole hours since 1970-01-01 UTC of a ``UTCDateTime`` column, on either database."""
    if dialect_of(session) == "postgresql":
        return sa.cast(sa.func.floor(sa.extract("epoch", column) / 3600), sa.BigInteger)
    return sa.cast(sa.func.strftime("%s", column), sa.Integer) // 3600


FAST_PATHS = "fast_paths"
"""``session.info[FAST_PATHS] = False`` makes every ``fastpath.py`` stand aside for this
session, so a test runs the same inputs through the plain path on PostgreSQL."""


def fast_paths_apply(session: Session) -> bool:
    """Whether a ``fastpath.py`` variant replaces the plain (ORM, portable) path: PostgreSQL
    only, unless this session turned them off."""
    return dialect_of(session) == "postgresql" and session.info.get(FAST_PATHS, True)
