"""The database handle: one database at the latest schema, created and migrated once by :func:`open_database`.

Stores and services receive a :class:`Database` through their constructors and only open connections to
it; none of them migrates. The same handle serves a SQLite file and a PostgreSQL database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bnpl_assistant.storage.connection import (
    Connection,
    redacted,
    session,
    sqlite_path,
    transaction,
    url_of,
)
from bnpl_assistant.storage.schema import migrate, schema_version


@dataclass(frozen=True)
class Database:
    """One database. Build it with :func:`open_database`, which brings the schema up to date.

    Attributes:
        target: The SQLite file's path or the database URL it was opened with.
    """

    target: Path | str

    @property
    def url(self) -> str:
        """The SQLAlchemy URL (``sqlite:///...`` or ``postgresql+psycopg://...``)."""
        return url_of(self.target)

    @property
    def path(self) -> Path | None:
        """The SQLite file, None on a database server."""
        return sqlite_path(self.target)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return "sqlite" if self.path is not None else "postgresql"

    def describe(self) -> str:
        """Where the data lives, fit for messages (a URL's password hidden)."""
        return redacted(self.target)

    def session(self) -> AbstractContextManager[Connection]:
        """A pooled connection for reads, returned afterwards."""
        return session(self.target)

    @contextmanager
    def write(self, exclusive: bool = True) -> Iterator[Connection]:
        """A connection inside one write transaction (rolled back when the block raises); ``exclusive`` writes
        are serialised with each other (see :func:`~bnpl_assistant.storage.connection.transaction`)."""
        with session(self.target) as conn, transaction(conn, exclusive):
            yield conn

    def schema_version(self) -> int:
        """The latest migration applied."""
        return schema_version(self.target)


def open_database(target: Path | str) -> Database:
    """Create (with its folder) or upgrade the database at ``target`` and return its handle.

    Safe to call again and from several processes at once: each migration is applied once.

    Args:
        target: A SQLite file's path, or a URL such as ``postgresql+psycopg://bnpl@127.0.0.1:5432/bnpl``.

    Returns:
        The handle to pass to the stores and services.
    """
    migrate(target)
    return Database(target)
