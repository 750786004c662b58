"""The storage package: migrations, connections and read-only access on real SQLite files."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from bnpl_assistant import storage
from bnpl_assistant.accounts.service import AccountsService
from bnpl_assistant.conversation import Conversation, Reply
from bnpl_assistant.storage import Row, open_database
from bnpl_assistant.support.convlog import ConversationLog
from bnpl_assistant.support.handoffs import HandoffStore

DATA = Path(__file__).parent / "data"


def rows(db: Path | str, sql: str, *args: object) -> list[Row]:
    with storage.session(db) as conn:
        return conn.execute(sql, args).fetchall()


# -- migrations ------------------------------------------------------------------------------------------------

TABLES = {"alembic_version", "meta", "customers", "orders", "plans", "instalments", "returns", "disputes", "audit",
          "handoffs", "outbox", "turns", "conversations", "messages", "ratings", "desk_access"}


@pytest.mark.database
def test_migrations_create_every_table_and_rerun_safely(database_at: Callable[[str], Path | str]) -> None:
    target = database_at("x")
    assert open_database(target).schema_version() == storage.LATEST_VERSION
    assert open_database(target).schema_version() == storage.LATEST_VERSION  # again: nothing applied twice
    with storage.session(target) as conn:
        inspector = sa.inspect(conn.raw)
        assert set(inspector.get_table_names()) >= TABLES
        turn_columns = {c["name"] for c in inspector.get_columns("turns")}
        outbox_columns = {c["name"] for c in inspector.get_columns("outbox")}
        assert [tuple(r) for r in conn.execute("SELECT version_num FROM alembic_version").fetchall()] == [("0004",)]
    assert {"id", "conversation_id", "turn_index", "created_at", "customer_id", "language", "message",
            "reply", "outcome", "topic", "sources", "model_path", "latency_ms", "reason", "feedback",
            "feedback_comment"} <= turn_columns
    assert {"claimed_by", "claimed_until"} <= outbox_columns


@pytest.mark.database
def test_constraints_hold_on_every_backend(database_at: Callable[[str], Path | str]) -> None:
    database = open_database(database_at("x"))
    with pytest.raises(storage.IntegrityError), database.write() as conn:  # CHECK
        conn.execute("INSERT INTO ratings (conversation_id, at, score, resolved_by) VALUES ('c', 'now', 9, 'agent')")
    with database.write() as conn:
        conn.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')")
        conn.execute("INSERT INTO meta (key, value) VALUES ('k', 'w') ON CONFLICT DO NOTHING")
    with pytest.raises(storage.IntegrityError), database.write() as conn:  # PRIMARY KEY
        conn.execute("INSERT INTO meta (key, value) VALUES ('k', 'x')")
    with database.session() as conn:
        assert [dict(r) for r in conn.execute("SELECT key, value FROM meta").fetchall()] == [{"key": "k", "value": "v"}]


def _replay(path: Path, dump: str) -> None:
    """A file as an old release left it, from a frozen dump in tests/data. A raw driver connection on purpose: it
    replays the dump exactly as SQLite wrote it (a dump creates tables in alphabetical order, so the foreign keys
    storage switches on must stay off)."""
    with sqlite3.connect(path) as conn:
        conn.executescript((DATA / dump).read_text(encoding="utf-8"))
    conn.close()


def test_upgrade_from_version_1_keeps_the_data(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite3"
    _replay(path, "db_schema_v1.sql")  # the first release's tables and its schema_version table
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (1, 'then')")
        conn.execute("INSERT INTO handoffs (ticket, created_at, conversation_id, language, reason, team, priority, "
                     "summary, transcript, status) VALUES ('HND-000001', 'then', 'c1', 'en', 'fraud', 'fraud', 1, "
                     "'old summary', '[]', 'open')")
    conn.close()
    assert open_database(path).schema_version() == storage.LATEST_VERSION
    ticket = rows(path, "SELECT summary, summary_by, reopened FROM handoffs")
    assert [tuple(r) for r in ticket] == [("old summary", "extractive", 0)]
    assert [r[0] for r in rows(path, "SELECT version_num FROM alembic_version")] == ["0004"]


def test_connection_uses_wal_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    with storage.session(tmp_path / "x.sqlite3") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == storage.BUSY_TIMEOUT_MS


@pytest.mark.database
def test_concurrent_migrations_apply_once(database_at: Callable[[str], Path | str]) -> None:
    target = database_at("x")
    errors: list[BaseException] = []

    def run() -> None:
        try:
            open_database(target)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [r[0] for r in rows(target, "SELECT version_num FROM alembic_version")] == ["0004"]


@pytest.mark.database
def test_transaction_rolls_back_on_error(database_at: Callable[[str], Path | str]) -> None:
    path = database_at("x")
    open_database(path)
    with storage.session(path) as conn:
        with pytest.raises(RuntimeError), storage.transaction(conn):
            conn.execute("INSERT INTO meta (key, value) VALUES ('a', 'b')")
            raise RuntimeError("boom")
        assert conn.execute("SELECT COUNT(*) FROM meta").fetchone()[0] == 0


# -- files written before the storage package -------------------------------------------------------------


def test_a_file_from_schema_version_2_opens_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    _replay(path, "db_schema_v2.sql")
    database = open_database(path)
    assert database.schema_version() == storage.LATEST_VERSION
    svc = AccountsService(database)
    assert str(svc.today) == "2026-11-20"
    order = svc.get_order("cust-001", "ord-10001")
    assert (order.amount_cents, order.plan, [i.status for i in order.instalments]) == \
        (8990, "pay_in_4", ["paid", "paid", "due", "due"])
    ticket = HandoffStore(database).get("HND-000001")
    assert (ticket.team, ticket.priority, ticket.summary_by, ticket.status) == ("fraud", 1, "extractive", "open")
    assert HandoffStore(database).pending_outbox() == 1
    log = ConversationLog(database)
    (turn,) = log.iter_turns()
    assert (turn.outcome, turn.ticket, turn.feedback, turn.feedback_comment) == ("escalate", "HND-000001", -1, "slow")
    stats = log.stats()
    assert (stats.conversations, stats.contained, stats.resolution, stats.thumbs_down) == (1, 0, 0.0, 1)
    hello = Reply(text="Hi", outcome="answer", topic=None, retrieved_topics=[], sources=[], language="en",
                  confidence=0.5)
    assert log.get(log.log_turn(Conversation(id="conv-1"), "and another thing", hello)).turn_index == 1


# -- read-only access ----------------------------------------------------------------------------------------


def test_read_only_creates_nothing_and_names_a_missing_table(tmp_path: Path) -> None:
    absent = tmp_path / "absent.sqlite3"
    with pytest.raises(storage.OperationalError), storage.read_only(absent) as conn:
        conn.execute("SELECT 1")
    assert not absent.exists()
    path = tmp_path / "x.sqlite3"
    open_database(path)
    with pytest.raises(storage.MissingSchemaError, match="no such table: missing"), storage.read_only(path) as conn:
        conn.execute("SELECT * FROM missing")
    with pytest.raises(storage.OperationalError, match="readonly"), storage.read_only(path) as conn:
        conn.execute("INSERT INTO meta (key, value) VALUES ('a', 'b')")
    assert rows(path, "SELECT COUNT(*) FROM meta")[0][0] == 0


def test_a_file_from_schema_version_3_upgrades_and_its_conversation_continues(tmp_path: Path) -> None:
    """Today's files (schema_version 3, before Alembic): stamped, upgraded, and the queued conversation, its
    ticket and its outbox item carry on under the new schema."""
    from bnpl_assistant.support.live import LiveChat

    path = tmp_path / "v3.sqlite3"
    _replay(path, "db_schema_v3.sql")
    database = open_database(path)
    assert database.schema_version() == storage.LATEST_VERSION
    assert [r[0] for r in rows(path, "SELECT version_num FROM alembic_version")] == ["0004"]
    handoffs = HandoffStore(database)
    live = LiveChat(database, handoffs)
    assert live.owner("conv-v3") == "queued"
    conversation = live.load("conv-v3")
    assert conversation is not None and conversation.customer_id == "cust-001"
    assert [t.role for t in conversation.turns] == ["customer", "assistant"]
    assert [m.role for m in live.messages("conv-v3")] == ["customer", "assistant", "system"]
    assert handoffs.pending_outbox() == 1
    live.customer_writes(conversation, "Hello?")
    assert [m.text for m in live.messages("conv-v3", after=3)] == ["Hello?"]
    (turn,) = ConversationLog(database).iter_turns()
    assert (turn.outcome, turn.ticket) == ("escalate", "HND-000001")
