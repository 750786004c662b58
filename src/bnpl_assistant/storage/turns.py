"""Typed readers of the conversation log (the ``turns`` table), shared by the log, the dashboard and
``deflection/``.

:func:`read_resolution` is the one definition of containment and resolution measured from the log; the
dashboard's figures (:func:`read_stats`) and the deflection model's input both use it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bnpl_assistant.storage.connection import Connection, Row, read_only


@dataclass(frozen=True)
class LoggedTurn:
    """One logged exchange (message and reply already redacted when written)."""

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
class ResolutionCounts:
    """Conversations in the log and how they ended.

    A conversation is *contained* when none of its turns has outcome ``escalate``, and *resolved* when
    it is contained and none of its turns got a thumbs-down (feedback -1).
    """

    conversations: int
    contained: int
    resolved: int

    @property
    def containment(self) -> float | None:
        """Share of conversations contained (None without conversations)."""
        return self.contained / self.conversations if self.conversations else None

    @property
    def resolution(self) -> float | None:
        """Share of conversations resolved (None without conversations)."""
        return self.resolved / self.conversations if self.conversations else None


@dataclass(frozen=True)
class LogStats:
    """Dashboard numbers. Containment and resolution are defined by :class:`ResolutionCounts`;
    ``rated``, ``thumbs_up`` and ``thumbs_down`` count rated turns."""

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


_RESOLUTION = """
    SELECT COUNT(*),
           COALESCE(SUM(CASE WHEN escalated = 0 THEN 1 ELSE 0 END), 0),
           COALESCE(SUM(CASE WHEN escalated = 0 AND thumbs_down = 0 THEN 1 ELSE 0 END), 0)
    FROM (SELECT conversation_id,
                 MAX(CASE WHEN outcome = 'escalate' THEN 1 ELSE 0 END) AS escalated,
                 MAX(CASE WHEN feedback = -1 THEN 1 ELSE 0 END) AS thumbs_down
          FROM turns{where} GROUP BY conversation_id) AS per_conversation
"""


def _where(since: str | None, condition: str = "") -> str:
    parts = [p for p in ("created_at >= ?" if since else "", condition) if p]
    return " WHERE " + " AND ".join(parts) if parts else ""


def read_resolution(conn: Connection, since: str | None = None) -> ResolutionCounts:
    """Containment and resolution of the logged conversations (optionally of turns from ``since`` on).

    Needs only the columns ``conversation_id``, ``outcome`` and ``feedback`` (and ``created_at`` with
    ``since``).

    Args:
        conn: A connection to the log's database.
        since: An ISO timestamp; only turns created at or after it count.

    Returns:
        The conversation counts behind both rates.
    """
    args: tuple[str, ...] = (since,) if since else ()
    n, contained, resolved = conn.execute(_RESOLUTION.format(where=_where(since)), args).fetchone()
    return ResolutionCounts(int(n), int(contained), int(resolved))


def read_log_resolution(db_path: Path | str) -> ResolutionCounts:
    """:func:`read_resolution` on an existing file, opened read-only (nothing is created or migrated).

    Raises:
        MissingSchemaError: the file has no ``turns`` table (or lacks one of its columns).
        OperationalError: the file cannot be read.
    """
    with read_only(db_path) as conn:
        return read_resolution(conn)


def read_turn(conn: Connection, turn_id: int) -> LoggedTurn | None:
    """The logged turn with id ``turn_id``, or None."""
    row = conn.execute("SELECT * FROM turns WHERE id = ?", (turn_id,)).fetchone()
    return None if row is None else _turn(row)


def read_turns(conn: Connection, since: str | None = None) -> list[LoggedTurn]:
    """Every logged turn in order (optionally from the ISO timestamp ``since``)."""
    args: tuple[str, ...] = (since,) if since else ()
    rows = conn.execute("SELECT * FROM turns" + _where(since) + " ORDER BY created_at, id", args).fetchall()
    return [_turn(row) for row in rows]


def read_conversation_turns(conn: Connection, conversation_ids: list[str]) -> dict[str, list[LoggedTurn]]:
    """Every logged turn of each conversation in ``conversation_ids``, in turn order."""
    out: dict[str, list[LoggedTurn]] = {cid: [] for cid in conversation_ids}
    for start in range(0, len(conversation_ids), 500):  # SQLite's bound-parameter limit
        part = conversation_ids[start : start + 500]
        rows = conn.execute(f"SELECT * FROM turns WHERE conversation_id IN ({','.join('?' * len(part))}) "
                            "ORDER BY conversation_id, turn_index", tuple(part)).fetchall()
        for row in rows:
            out[row["conversation_id"]].append(_turn(row))
    return out


def read_reopened_tickets(conn: Connection) -> set[str]:
    """The hand-off tickets a customer reopened (the same topic again within the reopen window)."""
    return {str(r[0]) for r in conn.execute("SELECT ticket FROM handoffs WHERE reopened > 0 AND ticket IS NOT NULL")}


def read_stats(conn: Connection, since: str | None = None) -> LogStats:
    """Conversations, containment, resolution, feedback counts, escalations by reason, latency p50/p95.

    Args:
        conn: A connection to the log's database.
        since: An ISO timestamp; only turns created at or after it count.
    """
    args: tuple[Any, ...] = (since,) if since else ()

    def one(sql: str) -> Any:
        return conn.execute(sql, args).fetchone()

    turns = int(one("SELECT COUNT(*) FROM turns" + _where(since))[0])
    ended = read_resolution(conn, since)
    up, down = one("SELECT COALESCE(SUM(CASE WHEN feedback = 1 THEN 1 ELSE 0 END), 0), "
                   "COALESCE(SUM(CASE WHEN feedback = -1 THEN 1 ELSE 0 END), 0) FROM turns"
                   + _where(since))
    outcomes = _counts(conn, "SELECT outcome, COUNT(*) FROM turns" + _where(since) + " GROUP BY outcome", args)
    topics = _counts(conn, "SELECT topic, COUNT(*) FROM turns" + _where(since, "topic IS NOT NULL")
                     + " GROUP BY topic", args)
    reasons = _counts(conn, "SELECT reason, COUNT(*) FROM turns" + _where(since, "outcome = 'escalate'")
                      + " GROUP BY reason", args)
    latencies = [r[0] for r in conn.execute("SELECT latency_ms FROM turns"
                                            + _where(since, "latency_ms IS NOT NULL"), args)]
    p50, p95 = (float(v) for v in np.percentile(latencies, [50, 95])) if latencies else (None, None)
    return LogStats(
        conversations=ended.conversations, turns=turns, outcomes=outcomes, contained=ended.contained,
        containment=ended.containment, rated=int(up) + int(down), thumbs_up=int(up), thumbs_down=int(down),
        resolution=ended.resolution, escalations_by_reason=reasons, latency_p50_ms=p50, latency_p95_ms=p95,
        topics=topics)


def _counts(conn: Connection, sql: str, args: tuple[Any, ...]) -> dict[str, int]:
    rows = conn.execute(sql, args).fetchall()
    return {str(k): int(v) for k, v in sorted(rows, key=lambda kv: (-kv[1], str(kv[0])))}


def _turn(row: Row) -> LoggedTurn:
    return LoggedTurn(
        id=row["id"], conversation_id=row["conversation_id"], turn_index=row["turn_index"],
        created_at=row["created_at"], customer_id=row["customer_id"], language=row["language"],
        message=row["message"], reply=row["reply"], outcome=row["outcome"], topic=row["topic"],
        sources=json.loads(row["sources"]), model_path=row["model_path"], latency_ms=row["latency_ms"],
        reason=row["reason"], tool=row["tool"], team=row["team"], ticket=row["ticket"],
        feedback=row["feedback"], feedback_comment=row["feedback_comment"])
