"""Connections to the one database, SQLite (a file, the embedded default) or PostgreSQL (shared by a fleet),
through SQLAlchemy 2: the only module that builds engines or touches a driver.

A database is named by a *target*: a SQLite file's path, or a URL (``sqlite:///...``,
``postgresql+psycopg://user@host/db``). Every store writes plain SQL with ``?`` placeholders and reads rows by
column name or position; :class:`Connection` runs it on either backend (``%s`` for psycopg). The SQL the
stores write is the subset both understand (``ON CONFLICT``, ``RETURNING``, ``CASE`` rather than booleans).

- :func:`connect` / :func:`session`: a pooled connection in autocommit mode; :func:`transaction` is one write;
- writes are serialised as SQLite serialises them: ``BEGIN IMMEDIATE`` there, a transaction-scoped advisory
  lock on PostgreSQL, so a check made inside a transaction ("already reported?") still holds when the write
  happens; :func:`transaction` with ``exclusive=False`` skips the lock (the outbox claims rows with
  ``FOR UPDATE SKIP LOCKED`` instead);
- :func:`read_only`: a connection that creates and changes nothing (a SQLite file opened read-only);
- the driver's errors come wrapped by SQLAlchemy and are re-exported here under neutral names.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, TypeAlias

import sqlalchemy as sa
import sqlalchemy.exc as sa_exc
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

BUSY_TIMEOUT_MS = 5000
WRITE_LOCK_KEY = 0x626E706C  # "bnpl": the advisory lock every exclusive PostgreSQL write transaction takes

Target: TypeAlias = "Path | str"
DatabaseError = sa_exc.DBAPIError  # base of every error a driver raises, as SQLAlchemy wraps it
OperationalError = sa_exc.OperationalError  # locked, disk I/O, server gone, ...
IntegrityError = sa_exc.IntegrityError  # a UNIQUE, CHECK or foreign-key constraint failed

_MISSING = ("no such table", "no such column", "does not exist")  # SQLite's and PostgreSQL's wording


class MissingSchemaError(OperationalError):
    """The database lacks a table or column a reader needs (e.g. no conversation was logged to it yet).

    A subclass of :data:`OperationalError`, so code that catches that still catches this; the message is
    the driver's ("no such table: turns", 'relation "turns" does not exist').
    """


def url_of(target: Target) -> str:
    """The SQLAlchemy URL of ``target`` (a path becomes ``sqlite:///<absolute path>``)."""
    text = str(target)
    return text if "://" in text else f"sqlite:///{Path(text).resolve()}"


def sqlite_path(target: Target) -> Path | None:
    """The file behind a SQLite target, None for a server database."""
    url = sa.engine.make_url(url_of(target))
    return Path(url.database) if url.get_backend_name() == "sqlite" and url.database else None


def redacted(target: Target) -> str:
    """``target`` fit for messages and logs: a URL's password hidden."""
    text = str(target)
    return sa.engine.make_url(text).render_as_string(hide_password=True) if "://" in text else text


class Row(tuple[Any, ...]):
    """A result row: by position (``row[0]``), by column name (``row["id"]``), or ``dict(row)``."""

    _index: ClassVar[dict[str, int]] = {}

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


@lru_cache(maxsize=512)
def _row_class(keys: tuple[str, ...]) -> type[Row]:
    return type("Row", (Row,), {"_index": {k: i for i, k in enumerate(keys)}, "__slots__": ()})


class Result:
    """What :meth:`Connection.execute` returns: the rows (read at once) and the count of changed rows."""

    def __init__(self, result: sa.CursorResult[Any]) -> None:
        self.rowcount = result.rowcount
        if result.returns_rows:
            cls = _row_class(tuple(result.keys()))
            self._rows = [cls(r) for r in result.fetchall()]
        else:
            self._rows = []
        self._next = 0

    def fetchone(self) -> Any:  # a Row or None (typed Any as the DB-API cursor's is: callers know which)
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchall(self) -> list[Row]:
        rest, self._next = self._rows[self._next:], len(self._rows)
        return rest

    def __iter__(self) -> Iterator[Row]:
        return iter(self.fetchall())


@lru_cache(maxsize=2048)
def _pyformat(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


class Connection:
    """One pooled connection in autocommit mode; SQL with ``?`` placeholders runs on either backend."""

    def __init__(self, conn: sa.Connection) -> None:
        self.raw = conn
        self.dialect = conn.dialect.name  # "sqlite" | "postgresql"
        self._translate = self.dialect != "sqlite"

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        statement = _pyformat(sql) if self._translate else sql
        return Result(self.raw.exec_driver_sql(statement, tuple(params)))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        batch = [tuple(r) for r in rows]
        if batch:
            self.raw.exec_driver_sql(_pyformat(sql) if self._translate else sql, batch)

    def close(self) -> None:
        self.raw.close()


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def engine(target: Target) -> Engine:
    """The process's one engine (and connection pool) for ``target``."""
    url = url_of(target)
    with _engines_lock:
        found = _engines.get(url)
        if found is None:
            found = _engines[url] = _create_engine(url)
        return found


def _create_engine(url: str) -> Engine:
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        made = sa.create_engine(url, isolation_level="AUTOCOMMIT", pool_size=8, max_overflow=56,
                                connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False})
        event.listen(made, "connect", _sqlite_pragmas)
        return made
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", pool_size=5, max_overflow=20, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """WAL lets the page read the log while a turn is written; the busy timeout makes a second writer wait."""
    cursor = dbapi_conn.cursor()
    for pragma in (f"busy_timeout = {BUSY_TIMEOUT_MS}", "journal_mode = WAL", "synchronous = NORMAL",
                   "foreign_keys = ON"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def dispose(target: Target) -> None:
    """Close the pooled connections to ``target`` (tests that remove a database, forks)."""
    with _engines_lock:
        found = _engines.pop(url_of(target), None)
    if found is not None:
        found.dispose()


def connect(target: Target) -> Connection:
    """A pooled connection to ``target`` (creating a SQLite file's folder); close it when done."""
    return Connection(engine(target).connect())


@contextmanager
def transaction(conn: Connection, exclusive: bool = True) -> Iterator[Connection]:
    """One write transaction, rolled back when the block raises.

    ``exclusive`` (the default) serialises it with every other exclusive write: ``BEGIN IMMEDIATE`` on SQLite,
    a transaction-scoped advisory lock on PostgreSQL.
    """
    if conn.dialect == "sqlite":
        conn.raw.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.raw.exec_driver_sql("BEGIN")
        if exclusive:
            conn.raw.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")
    try:
        yield conn
    except BaseException:
        conn.raw.exec_driver_sql("ROLLBACK")
        raise
    conn.raw.exec_driver_sql("COMMIT")


@contextmanager
def session(target: Target) -> Iterator[Connection]:
    """A pooled connection for one operation, returned to the pool afterwards."""
    conn = connect(target)
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def read_only(target: Target) -> Iterator[Connection]:
    """A connection that creates and changes nothing: a SQLite file opened read-only, or a server database.

    Raises:
        MissingSchemaError: a query inside names a table or column the database does not have.
        OperationalError: the file cannot be opened or read, or the server cannot be reached.
    """
    path = sqlite_path(target)
    if path is None:
        made = sa.create_engine(url_of(target), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    else:
        made = sa.create_engine("sqlite://", poolclass=NullPool, creator=lambda: sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, check_same_thread=False))
    try:
        with made.connect() as raw:
            try:
                yield Connection(raw)
            except sa_exc.DBAPIError as exc:
                if not isinstance(exc, MissingSchemaError) and any(m in str(exc.orig) for m in _MISSING):
                    raise MissingSchemaError(exc.statement, exc.params, exc.orig or exc) from exc
                raise
    finally:
        made.dispose()

