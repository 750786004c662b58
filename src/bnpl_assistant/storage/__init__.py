"""Storage: the one database behind the assistant (a SQLite file, or PostgreSQL for a fleet) and the only
package that builds engines or imports a driver.

- ``connection``: SQLAlchemy engines and pooled connections, transactions, read-only access, errors;
- ``schema`` (and ``migrations/``): every table as numbered, append-only Alembic migrations;
- ``database``: :class:`Database`, the handle that stores and services receive (:func:`open_database`
  creates or upgrades the database once);
- ``turns``: typed readers of the conversation log shared by the log, the dashboard and ``deflection/``.

A table's writes live with the module that owns it (the accounts service, the support stores) and go
through connections from here.
"""

from bnpl_assistant.storage.connection import (
    BUSY_TIMEOUT_MS,
    Connection,
    DatabaseError,
    IntegrityError,
    MissingSchemaError,
    OperationalError,
    Row,
    Target,
    connect,
    dispose,
    read_only,
    redacted,
    session,
    sqlite_path,
    transaction,
    url_of,
)
from bnpl_assistant.storage.database import Database, open_database
from bnpl_assistant.storage.schema import LATEST_VERSION, migrate, schema_version
from bnpl_assistant.storage.turns import (
    LoggedTurn,
    LogStats,
    ResolutionCounts,
    read_conversation_turns,
    read_log_resolution,
    read_reopened_tickets,
    read_resolution,
    read_stats,
    read_turn,
    read_turns,
)

__all__ = [
    "BUSY_TIMEOUT_MS",
    "LATEST_VERSION",
    "Connection",
    "Database",
    "DatabaseError",
    "IntegrityError",
    "LogStats",
    "LoggedTurn",
    "MissingSchemaError",
    "OperationalError",
    "ResolutionCounts",
    "Row",
    "Target",
    "connect",
    "dispose",
    "migrate",
    "open_database",
    "read_conversation_turns",
    "read_log_resolution",
    "read_only",
    "read_reopened_tickets",
    "read_resolution",
    "read_stats",
    "read_turn",
    "read_turns",
    "redacted",
    "schema_version",
    "session",
    "sqlite_path",
    "transaction",
    "url_of",
]
