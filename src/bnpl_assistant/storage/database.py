"""The database handle: one file at the latest schema, created and migrated once by :func:`open_database`.

Stores and services receive a :class:`Database` through their constructors and only open connections to
it; none of them migrates. Swapping the backend (e.g. PostgreSQL) means another handle with these methods.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bnpl_assistant.storage.connection import Connection, ThreadConnections, session, transaction
from bnpl_assistant.storage.schema import migrate, schema_version


@dataclass(frozen=True)
class Database:
    """One database file. Build it with :func:`open_database`, which brings the schema up to date.

    Attributes:
        path: The SQLite file.
    """

    path: Path

    def session(self) -> AbstractContextManager[Connection]:
        """A short-lived connection for reads, closed afterwards."""
        return session(self.path)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A short-lived connection inside one write transaction (rolled back when the block raises)."""
        with session(self.path) as conn, transaction(conn):
            yield conn

    def thread_connections(self) -> ThreadConnections:
        """Long-lived per-thread connections, for a store written on every turn."""
        return ThreadConnections(self.path)

    def schema_version(self) -> int:
        """The highest migration applied to the file."""
        with session(self.path) as conn:
            return schema_version(conn)


def open_database(path: Path | str) -> Database:
    """Create (with its folder) or upgrade the database at ``path`` and return its handle.

    Safe to call again and from several processes at once: each migration is applied once.

    Args:
        path: The SQLite file.

    Returns:
        The handle to pass to the stores and services.
    """
    with session(path) as conn:
        migrate(conn)
    return Database(Path(path))
