"""The conversation log: one row per turn (redacted), the customer's thumbs up/down, and the numbers the
dashboard and ``bnpl-assistant deflection --log`` read."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bnpl_assistant.accounts.db import ThreadConnections, init_db, transaction
from bnpl_assistant.conversation import Conversation, Reply
from bnpl_assistant.errors import DataError
from bnpl_assistant.redact import redact

FEEDBACK_VALUES = (1, -1)


@dataclass(frozen=True)
class LoggedTurn:
    id: int
    conversation_id: str
    turn_index: int
    created_at: str
    customer_id: str | None
    language: str
    message: str
    reply: str
    outcome: str
    topic: str | None
    sources: list[dict[str, str]]
    model_path: str
    latency_ms: float | None
    reason: str
    tool: str | None
    team: str | None
    ticket: str | None
    feedback: int | None
    feedback_comment: str | None


@dataclass(frozen=True)
class LogStats:
    """Dashboard numbers. Containment: share of conversations that never escalated to a person.
    Resolution: share of rated turns rated thumbs up."""

    conversations: int
    turns: int
    outcomes: dict[str, int]
    contained: int
    containment: float | None
    rated: int
    thumbs_up: int
    thumbs_down: int
    resolution: float | None
    escalations_by_reason: dict[str, int]
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    topics: dict[str, int] = field(default_factory=dict)


class ConversationLog:
    """Appends turns to the ``turns`` table of the SQLite database (WAL: the page can read meanwhile)."""

    def __init__(self, db_path: Path | str, clock: Callable[[], datetime] | None = None) -> None:
        self.db_path = Path(db_path)
        self._clock = clock or (lambda: datetime.now(UTC))
        init_db(self.db_path)
        self._db = ThreadConnections(self.db_path)

    def log_turn(self, conversation: Conversation, message: str, reply: Reply) -> int:
        """Store one exchange; the message (and reply) are redacted first.

        Returns:
            The turn's id, for :meth:`feedback`.
        """
        sources = [{"id": s.id, "title": s.title, "language": s.language} for s in reply.sources]
        latency = reply.timings_ms.get("total")
        values = (conversation.id, self._clock().isoformat(timespec="milliseconds"), conversation.customer_id,
                  reply.language, redact(message or ""), redact(reply.text), reply.outcome, reply.topic,
                  json.dumps(sources, ensure_ascii=False), reply.model_path,
                  float(latency) if latency is not None else None, reply.reason, reply.tool, reply.team,
                  reply.ticket_id, float(reply.confidence), int(reply.fell_back))
        with self._db.session() as conn, transaction(conn):
            index = conn.execute("SELECT COALESCE(MAX(turn_index) + 1, 0) FROM turns "
                                 "WHERE conversation_id = ?", (conversation.id,)).fetchone()[0]
            cur = conn.execute(
                "INSERT INTO turns (conversation_id, created_at, customer_id, language, message, reply, "
                "outcome, topic, sources, model_path, latency_ms, reason, tool, team, ticket, confidence, "
                "fell_back, turn_index) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*values, index))
            return int(cur.lastrowid or 0)

    def feedback(self, turn_id: int, value: int, comment: str | None = None) -> None:
        """Record the customer's thumbs up (1) or down (-1) and optional comment (redacted) on a turn.

        Raises:
            DataError: an unknown turn or a value other than 1 / -1.
        """
        if value not in FEEDBACK_VALUES:
            raise DataError("feedback must be 1 (thumbs up) or -1 (thumbs down)")
        clean = redact(comment.strip())[:2000] if comment and comment.strip() else None
        with self._db.session() as conn, transaction(conn):
            cur = conn.execute("UPDATE turns SET feedback = ?, feedback_comment = ? WHERE id = ?",
                               (value, clean, turn_id))
            if cur.rowcount == 0:
                raise DataError(f"no logged turn with id {turn_id}")

    def get(self, turn_id: int) -> LoggedTurn:
        with self._db.session() as conn:
            row = conn.execute("SELECT * FROM turns WHERE id = ?", (turn_id,)).fetchone()
        if row is None:
            raise DataError(f"no logged turn with id {turn_id}")
        return _turn(row)

    def iter_turns(self, since: str | None = None) -> Iterator[LoggedTurn]:
        """Every logged turn in order (optionally from the ISO timestamp ``since``), for reports."""
        sql = "SELECT * FROM turns" + (" WHERE created_at >= ?" if since else "")
        args: tuple[str, ...] = (since,) if since else ()
        with self._db.session() as conn:
            rows = conn.execute(sql + " ORDER BY created_at, id", args).fetchall()
        for row in rows:
            yield _turn(row)

    def stats(self, since: str | None = None) -> LogStats:
        """Conversations, containment, resolution by feedback, escalations by reason, latency p50/p95."""

        def where(condition: str = "") -> str:
            parts = [p for p in ("created_at >= ?" if since else "", condition) if p]
            return " WHERE " + " AND ".join(parts) if parts else ""

        args: tuple[Any, ...] = (since,) if since else ()
        with self._db.session() as conn:
            def one(sql: str) -> Any:
                return conn.execute(sql, args).fetchone()

            turns = int(one("SELECT COUNT(*) FROM turns" + where())[0])
            conversations = int(one("SELECT COUNT(DISTINCT conversation_id) FROM turns" + where())[0])
            escalated = int(one("SELECT COUNT(DISTINCT conversation_id) FROM turns"
                                + where("outcome = 'escalate'"))[0])
            up, down = one("SELECT COALESCE(SUM(feedback = 1), 0), COALESCE(SUM(feedback = -1), 0) FROM turns"
                           + where())
            outcomes = _counts(conn, "SELECT outcome, COUNT(*) FROM turns" + where() + " GROUP BY outcome",
                               args)
            topics = _counts(conn, "SELECT topic, COUNT(*) FROM turns" + where("topic IS NOT NULL")
                             + " GROUP BY topic", args)
            reasons = _counts(conn, "SELECT reason, COUNT(*) FROM turns" + where("outcome = 'escalate'")
                              + " GROUP BY reason", args)
            latencies = [r[0] for r in conn.execute("SELECT latency_ms FROM turns"
                                                    + where("latency_ms IS NOT NULL"), args)]
        rated = int(up) + int(down)
        p50, p95 = (float(v) for v in np.percentile(latencies, [50, 95])) if latencies else (None, None)
        return LogStats(
            conversations=conversations, turns=turns, outcomes=outcomes, contained=conversations - escalated,
            containment=(conversations - escalated) / conversations if conversations else None,
            rated=rated, thumbs_up=int(up), thumbs_down=int(down),
            resolution=int(up) / rated if rated else None,
            escalations_by_reason=reasons, latency_p50_ms=p50, latency_p95_ms=p95, topics=topics)


def _counts(conn: sqlite3.Connection, sql: str, args: tuple[Any, ...]) -> dict[str, int]:
    rows = conn.execute(sql, args).fetchall()
    return {str(k): int(v) for k, v in sorted(rows, key=lambda kv: (-kv[1], str(kv[0])))}


def _turn(row: sqlite3.Row) -> LoggedTurn:
    return LoggedTurn(
        id=row["id"], conversation_id=row["conversation_id"], turn_index=row["turn_index"],
        created_at=row["created_at"], customer_id=row["customer_id"], language=row["language"],
        message=row["message"], reply=row["reply"], outcome=row["outcome"], topic=row["topic"],
        sources=json.loads(row["sources"]), model_path=row["model_path"], latency_ms=row["latency_ms"],
        reason=row["reason"], tool=row["tool"], team=row["team"], ticket=row["ticket"],
        feedback=row["feedback"], feedback_comment=row["feedback_comment"])
