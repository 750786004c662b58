"""Connections to the one SQLite file: the only module that imports the driver (``sqlite3``).

``connect`` opens a connection set up for several readers and one writer at a time (WAL, foreign keys,
busy timeout); :func:`transaction` is one write; :func:`session` and :class:`ThreadConnections` decide how
long a connection lives; :func:`read_only` opens a file without creating or changing it. The driver's types
and errors are re-exported here under neutral names so that no other module imports ``sqlite3``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TypeAlias

BUSY_TIMEOUT_MS = 5000

Connection: TypeAlias = sqlite3.Connection
Row: TypeAlias = sqlite3.Row
DatabaseError = sqlite3.DatabaseError  # base of every error the driver raises
OperationalError = sqlite3.OperationalError  # locked, disk I/O, a missing table or column, ...
IntegrityError = sqlite3.IntegrityError  # a UNIQUE, CHECK or foreign-key constraint failed


class MissingSchemaError(OperationalError):
    """The file lacks a table or column a reader needs (e.g. no conversation was logged to it yet).

    A subclass of :data:`OperationalError`, so code that catches that still catches this; the message is
    the driver's ("no such table: turns").
    """


def connect(db_path: Path | str) -> Connection:
    """Open ``db_path`` (creating its folder) in autocommit mode; use :func:`transaction` for writes.

    WAL lets the page read the log while a turn is written; the busy timeout makes a second writer wait
    instead of failing at once.
    """
    path = Path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                           check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


@contextmanager
def transaction(conn: Connection) -> Iterator[Connection]:
    """One write transaction. ``BEGIN IMMEDIATE`` takes the write lock up front, so a check made inside
    (e.g. "already reported?") still holds when the write happens."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextmanager
def session(db_path: Path | str) -> Iterator[Connection]:
    """A short-lived connection, closed afterwards (one per operation keeps threads independent)."""
    conn = connect(db_path)
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def read_only(db_path: Path | str) -> Iterator[Connection]:
    """A read-only connection to an existing file: nothing is created, migrated or written.

    Raises:
        MissingSchemaError: a query inside names a table or column the file does not have.
        OperationalError: the file cannot be opened or read.
    """
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as conn:
        conn.row_factory = sqlite3.Row
        try:
            yield conn
        except sqlite3.OperationalError as exc:
            if type(exc) is sqlite3.OperationalError and _names_missing_schema(exc):
                raise MissingSchemaError(str(exc)) from exc
            raise


def _names_missing_schema(exc: sqlite3.OperationalError) -> bool:
    return "no such table" in str(exc) or "no such column" in str(exc)


class ThreadConnections:
    """One long-lived connection per thread to one database file, for the hot path (a turn is logged on
    every message; opening a connection and setting its PRAGMAs costs about as much as the write itself).
    Per thread, so threads stay independent as with :func:`session`; a connection that fails is dropped and
    the next use opens a fresh one."""

    def __init__(self, db_path: Path | str) -> None:
        self.db_path = Path(db_path)
        self._local = threading.local()

    @contextmanager
    def session(self) -> Iterator[Connection]:
        """This thread's connection (opened on first use); dropped and closed when the driver fails."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.db_path)
            self._local.conn = conn
        try:
            yield conn
        except sqlite3.Error:
            self._local.conn = None
            conn.close()
            raise
