"""The schema of every table (accounts, hand-offs, outbox, conversation log, live chat) as Alembic migrations.

The migrations live in ``storage/migrations/versions`` as revisions ``0001``, ``0002``, ...: append-only, never
edit a released one, add the next number. The same migrations build a SQLite file and a PostgreSQL database.

Files written before Alembic kept their version in a ``schema_version`` table (1 to 3, the same steps as
revisions ``0001`` to ``0003``); :func:`migrate` stamps such a file at its version and upgrades it from there
(``tests/data/db_schema_v2.sql`` is one that must keep upgrading).

Several processes may migrate at once (instances of a fleet starting together): the upgrade runs under a
lock (a file lock beside a SQLite file, a session advisory lock on PostgreSQL), and a database already at the
latest revision is recognised without importing Alembic (a one-shot ``ask`` stays fast).
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from bnpl_assistant.storage.connection import Target, engine, sqlite_path

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
LATEST_VERSION = 4  # the newest revision, "0004"
MIGRATE_LOCK_KEY = 0x626E706D  # the advisory lock PostgreSQL migrations run under


def revision_id(version: int) -> str:
    return f"{version:04d}"


def schema_version(target: Target) -> int:
    """The latest migration applied to ``target``'s database (0 for a new one)."""
    with engine(target).connect() as conn:
        return _version(conn)


def _version(conn: sa.Connection) -> int:
    tables = set(sa.inspect(conn).get_table_names())
    if "alembic_version" in tables:
        row = conn.exec_driver_sql("SELECT version_num FROM alembic_version").first()
        return int(row[0]) if row else 0
    if "schema_version" in tables:  # written before Alembic
        row = conn.exec_driver_sql("SELECT MAX(version) FROM schema_version").first()
        return int(row[0] or 0) if row else 0
    return 0


def migrate(target: Target) -> int:
    """Bring ``target``'s database to the latest revision; safe to run again and from several processes.

    Returns:
        The schema version after migrating.
    """
    with engine(target).connect() as conn:
        if _at_head(conn):
            return LATEST_VERSION
    with _migration_lock(target), engine(target).connect() as pooled:
        conn = pooled.execution_options(isolation_level="SERIALIZABLE" if pooled.dialect.name == "sqlite"
                                        else "READ COMMITTED")
        _upgrade(conn)
        conn.commit()
        return _version(conn)


def _at_head(conn: sa.Connection) -> bool:
    try:
        row = conn.exec_driver_sql("SELECT version_num FROM alembic_version").first()
    except sa.exc.DBAPIError:
        return False
    return row is not None and row[0] == revision_id(LATEST_VERSION)


def _upgrade(conn: sa.Connection) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = conn
    tables = set(sa.inspect(conn).get_table_names())
    if "schema_version" in tables and "alembic_version" not in tables:
        legacy = _version(conn)
        if legacy:
            command.stamp(config, revision_id(legacy))
    command.upgrade(config, "head")


@contextmanager
def _migration_lock(target: Target) -> Iterator[None]:
    path = sqlite_path(target)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_name(path.name + ".migrate-lock"), "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    with engine(target).connect() as conn:
        conn.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATE_LOCK_KEY})")
        try:
            yield
        finally:
            conn.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATE_LOCK_KEY})")
