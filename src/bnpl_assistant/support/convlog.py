"""The conversation log: one row per turn (redacted) and the customer's thumbs up/down; the numbers the
dashboard and ``bnpl-assistant deflection --log`` read come from :mod:`bnpl_assistant.storage.turns`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from bnpl_assistant.conversation import Conversation, Reply
from bnpl_assistant.errors import DataError
from bnpl_assistant.redact import redact
from bnpl_assistant.storage import (
    Database,
    LoggedTurn,
    LogStats,
    read_stats,
    read_turn,
    read_turns,
)

FEEDBACK_VALUES = (1, -1)

_INSERT_TURN = ("INSERT INTO turns (conversation_id, created_at, customer_id, language, message, reply, "
                "outcome, topic, sources, model_path, latency_ms, reason, tool, team, ticket, confidence, "
                "fell_back, turn_index) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id")


class ConversationLog:
    """Appends turns to the ``turns`` table (WAL: the page can read meanwhile)."""

    def __init__(self, database: Database, clock: Callable[[], datetime] | None = None) -> None:
        """Args:
            database: the opened database (see :func:`bnpl_assistant.storage.open_database`).
            clock: timestamps of the turns (default: now, UTC).
        """
        self.database = database
        self._clock = clock or (lambda: datetime.now(UTC))

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
        with self.database.write() as conn:
            index = conn.execute("SELECT COALESCE(MAX(turn_index) + 1, 0) FROM turns "
                                 "WHERE conversation_id = ?", (conversation.id,)).fetchone()[0]
            return int(conn.execute(_INSERT_TURN, (*values, index)).fetchone()[0])

    def feedback(self, turn_id: int, value: int, comment: str | None = None) -> None:
        """Record the customer's thumbs up (1) or down (-1) and optional comment (redacted) on a turn.

        Raises:
            DataError: an unknown turn or a value other than 1 / -1.
        """
        if value not in FEEDBACK_VALUES:
            raise DataError("feedback must be 1 (thumbs up) or -1 (thumbs down)")
        clean = redact(comment.strip())[:2000] if comment and comment.strip() else None
        with self.database.write() as conn:
            cur = conn.execute("UPDATE turns SET feedback = ?, feedback_comment = ? WHERE id = ?",
                               (value, clean, turn_id))
            if cur.rowcount == 0:
                raise DataError(f"no logged turn with id {turn_id}")

    def get(self, turn_id: int) -> LoggedTurn:
        """One logged turn.

        Raises:
            DataError: no turn has that id.
        """
        with self.database.session() as conn:
            turn = read_turn(conn, turn_id)
        if turn is None:
            raise DataError(f"no logged turn with id {turn_id}")
        return turn

    def iter_turns(self, since: str | None = None) -> Iterator[LoggedTurn]:
        """Every logged turn in order (optionally from the ISO timestamp ``since``), for reports."""
        with self.database.session() as conn:
            turns = read_turns(conn, since)
        yield from turns

    def stats(self, since: str | None = None) -> LogStats:
        """The dashboard's figures (see :func:`bnpl_assistant.storage.read_stats`)."""
        with self.database.session() as conn:
            return read_stats(conn, since)
