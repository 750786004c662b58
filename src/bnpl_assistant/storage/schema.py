"""The schema of every table (accounts, hand-offs, outbox, conversation log) as numbered migrations.

``migrate`` brings a file to the latest version. Migrations are append-only: never edit a released one,
add the next number (``tests/data/db_schema_v2.sql`` is a file from version 2 that must keep upgrading).
"""

from __future__ import annotations

from bnpl_assistant.storage.connection import Connection, transaction

# (version, statements). Each migration runs in one transaction together with its schema_version row.
MIGRATIONS: list[tuple[int, tuple[str, ...]]] = [
    (1, (
        """CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL)""",
        """CREATE TABLE customers (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            email TEXT NOT NULL UNIQUE,
            language TEXT NOT NULL,
            payment_method TEXT NOT NULL CHECK (payment_method IN ('card', 'bank')),
            created_at TEXT NOT NULL)""",
        """CREATE TABLE orders (
            id TEXT PRIMARY KEY,
            customer_id TEXT NOT NULL REFERENCES customers(id),
            shop TEXT NOT NULL,
            items TEXT NOT NULL,
            amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
            currency TEXT NOT NULL DEFAULT 'EUR',
            status TEXT NOT NULL CHECK (status IN ('processing', 'shipped', 'delivered', 'cancelled')),
            ordered_at TEXT NOT NULL,
            shipped_at TEXT)""",
        "CREATE INDEX orders_customer ON orders(customer_id, ordered_at)",
        """CREATE TABLE plans (
            id TEXT PRIMARY KEY,
            order_id TEXT NOT NULL UNIQUE REFERENCES orders(id),
            kind TEXT NOT NULL CHECK (kind IN ('pay_in_4', 'pay_in_30', 'financing')),
            months INTEGER,
            apr REAL NOT NULL DEFAULT 0,
            status TEXT NOT NULL CHECK (status IN ('active', 'paid', 'cancelled')),
            extension_days INTEGER,
            extension_fee_cents INTEGER NOT NULL DEFAULT 0)""",
        """CREATE TABLE instalments (
            id INTEGER PRIMARY KEY,
            plan_id TEXT NOT NULL REFERENCES plans(id),
            seq INTEGER NOT NULL,
            due_date TEXT NOT NULL,
            amount_cents INTEGER NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('paid', 'due', 'failed', 'paused', 'cancelled')),
            paid_at TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            paused_until TEXT,
            paused_from TEXT,
            UNIQUE (plan_id, seq))""",
        """CREATE TABLE returns (
            id TEXT PRIMARY KEY,
            order_id TEXT NOT NULL UNIQUE REFERENCES orders(id),
            reported_at TEXT NOT NULL,
            pause_until TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('reported', 'confirmed', 'refunded')),
            refund_cents INTEGER,
            refunded_at TEXT)""",
        """CREATE TABLE disputes (
            id TEXT PRIMARY KEY,
            order_id TEXT NOT NULL REFERENCES orders(id),
            opened_at TEXT NOT NULL,
            reason TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('open', 'decided-for-customer', 'decided-for-shop')))""",
        "CREATE UNIQUE INDEX disputes_one_open ON disputes(order_id) WHERE status = 'open'",
        """CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            entity TEXT NOT NULL,
            before TEXT NOT NULL,
            after TEXT NOT NULL)""",
        "CREATE INDEX audit_entity ON audit(entity, action)",
        """CREATE TABLE handoffs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            ticket TEXT UNIQUE,
            created_at TEXT NOT NULL,
            conversation_id TEXT NOT NULL,
            customer_id TEXT,
            language TEXT NOT NULL,
            reason TEXT NOT NULL,
            topic TEXT,
            team TEXT NOT NULL,
            priority INTEGER NOT NULL,
            summary TEXT NOT NULL,
            transcript TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('open', 'claimed', 'closed')),
            agent TEXT,
            claimed_at TEXT,
            closed_at TEXT)""",
        "CREATE INDEX handoffs_queue ON handoffs(status, priority, id)",
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            ticket TEXT NOT NULL,
            url TEXT NOT NULL,
            payload TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'rejected')),
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            created_at TEXT NOT NULL,
            delivered_at TEXT)""",
        "CREATE INDEX outbox_pending ON outbox(status, id)",
        """CREATE TABLE turns (
            id INTEGER PRIMARY KEY,
            conversation_id TEXT NOT NULL,
            turn_index INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            customer_id TEXT,
            language TEXT NOT NULL,
            message TEXT NOT NULL,
            reply TEXT NOT NULL,
            outcome TEXT NOT NULL,
            topic TEXT,
            sources TEXT NOT NULL DEFAULT '[]',
            model_path TEXT NOT NULL,
            latency_ms REAL,
            reason TEXT NOT NULL DEFAULT '',
            tool TEXT,
            team TEXT,
            ticket TEXT,
            confidence REAL,
            fell_back INTEGER NOT NULL DEFAULT 0,
            feedback INTEGER CHECK (feedback IN (1, -1)),
            feedback_comment TEXT,
            UNIQUE (conversation_id, turn_index))""",
        "CREATE INDEX turns_created ON turns(created_at)",
    )),
    (2, (  # who wrote a hand-off summary: 'extractive' or the chat model, e.g. 'openai:gpt-4o-mini'
        "ALTER TABLE handoffs ADD COLUMN summary_by TEXT NOT NULL DEFAULT 'extractive'",
    )),
    (3, (  # live hand-off: who owns a conversation, every chat message, ratings, agents' account views
        """CREATE TABLE conversations (
            id TEXT PRIMARY KEY,
            customer_id TEXT,
            owner TEXT NOT NULL DEFAULT 'assistant',
            ticket TEXT,
            state TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL)""",
        """CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            conversation_id TEXT NOT NULL,
            at TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('customer', 'assistant', 'agent', 'system')),
            author TEXT,
            text TEXT NOT NULL)""",
        "CREATE INDEX messages_conversation ON messages(conversation_id, id)",
        """CREATE TABLE ratings (
            id INTEGER PRIMARY KEY,
            conversation_id TEXT NOT NULL,
            ticket TEXT,
            at TEXT NOT NULL,
            score INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
            comment TEXT,
            resolved_by TEXT NOT NULL CHECK (resolved_by IN ('assistant', 'agent')),
            topic TEXT)""",
        """CREATE TABLE desk_access (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            agent TEXT NOT NULL,
            action TEXT NOT NULL,
            entity TEXT NOT NULL)""",
        "ALTER TABLE handoffs ADD COLUMN close_reason TEXT",
        "ALTER TABLE handoffs ADD COLUMN reopened INTEGER NOT NULL DEFAULT 0",
    )),
]

LATEST_VERSION = MIGRATIONS[-1][0]


def schema_version(conn: Connection) -> int:
    """The highest applied migration, 0 for a new file."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                 "applied_at TEXT NOT NULL)")
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(conn: Connection) -> int:
    """Apply every migration newer than the file's version; safe to run again (and concurrently).

    Returns:
        The schema version after migrating.
    """
    schema_version(conn)
    for version, statements in MIGRATIONS:
        with transaction(conn):
            # Re-checked under the write lock: another process may have migrated meanwhile.
            if conn.execute("SELECT 1 FROM schema_version WHERE version = ?", (version,)).fetchone():
                continue
            for statement in statements:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, datetime('now'))",
                         (version,))
    return schema_version(conn)
