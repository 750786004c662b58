"""Storage: the one database file behind the assistant and the only package that imports its driver.

- ``connection``: connections, transactions, read-only access, the driver's types and errors re-exported;
- ``schema``: every table as numbered, append-only migrations;
- ``database``: :class:`Database`, the handle that stores and services receive (:func:`open_database`
  creates or upgrades the file once);
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
    ThreadConnections,
    connect,
    read_only,
    session,
    transaction,
)
from bnpl_assistant.storage.database import Database, open_database
from bnpl_assistant.storage.schema import LATEST_VERSION, MIGRATIONS, migrate, schema_version
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
    "MIGRATIONS",
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
    "ThreadConnections",
    "connect",
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
    "schema_version",
    "session",
    "transaction",
]
