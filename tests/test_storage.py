"""The storage package: migrations, connections and read-only access on real SQLite files."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from bnpl_assistant import storage
from bnpl_assistant.accounts.service import AccountsService
from bnpl_assistant.conversation import Conversation, Reply
from bnpl_assistant.storage import Row, open_database
from bnpl_assistant.support.convlog import ConversationLog
from bnpl_assistant.support.handoffs import HandoffStore

DATA = Path(__file__).parent / "data"


def rows(db: Path, sql: str, *args: object) -> list[Row]:
    with storage.session(db) as conn:
        return conn.execute(sql, args).fetchall()


# -- migrations (moved from test_accounts.py) ------------------------------------------------------------


def test_migrations_create_every_table_and_rerun_safely(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite3"
    assert open_database(path).schema_version() == storage.LATEST_VERSION
    assert open_database(path).schema_version() == storage.LATEST_VERSION  # again: nothing applied twice
    names = {r[0] for r in rows(path, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"schema_version", "customers", "orders", "plans", "instalments", "returns", "disputes", "audit",
            "handoffs", "outbox", "turns"} <= names
    assert [r[0] for r in rows(path, "SELECT version FROM schema_version")] == [1, 2, 3]
    turn_columns = {r[1] for r in rows(path, "PRAGMA table_info(turns)")}
    assert {"id", "conversation_id", "turn_index", "created_at", "customer_id", "language", "message",
            "reply", "outcome", "topic", "sources", "model_path", "latency_ms", "reason", "feedback",
            "feedback_comment"} <= turn_columns


def test_upgrade_from_version_1_keeps_the_data(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite3"
    with storage.session(path) as conn:  # a database written by the first release
        storage.schema_version(conn)
        for version, statements in storage.MIGRATIONS[:1]:
            with storage.transaction(conn):
                for statement in statements:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, 'then')", (version,))
        with storage.transaction(conn):
            conn.execute("INSERT INTO handoffs (ticket, created_at, conversation_id, language, reason, team, "
                         "priority, summary, transcript, status) VALUES ('HND-000001', 'then', 'c1', 'en', "
                         "'fraud', 'fraud', 1, 'old summary', '[]', 'open')")
    assert open_database(path).schema_version() == storage.LATEST_VERSION
    ticket = rows(path, "SELECT summary, summary_by FROM handoffs")
    assert [tuple(r) for r in ticket] == [("old summary", "extractive")]


def test_connection_uses_wal_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    with storage.session(tmp_path / "x.sqlite3") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == storage.BUSY_TIMEOUT_MS


def test_concurrent_migrations_apply_once(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite3"
    errors: list[BaseException] = []

    def run() -> None:
        try:
            open_database(path)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [r[0] for r in rows(path, "SELECT version FROM schema_version")] == [1, 2, 3]


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite3"
    open_database(path)
    with storage.session(path) as conn:
        with pytest.raises(RuntimeError), storage.transaction(conn):
            conn.execute("INSERT INTO meta (key, value) VALUES ('a', 'b')")
            raise RuntimeError("boom")
        assert conn.execute("SELECT COUNT(*) FROM meta").fetchone()[0] == 0


# -- files written before the storage package -------------------------------------------------------------


def test_a_file_from_schema_version_2_opens_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    # A raw driver connection on purpose: it replays a dump of an old file exactly as SQLite wrote it (the
    # dump creates tables in alphabetical order, so the foreign keys storage switches on must stay off).
    with sqlite3.connect(path) as conn:
        conn.executescript((DATA / "db_schema_v2.sql").read_text(encoding="utf-8"))
    conn.close()
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
