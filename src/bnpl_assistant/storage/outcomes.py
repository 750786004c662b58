"""Typed readers of what the outcome analytics need: the logged turns, who else wrote in each conversation
(agents), the customers' ratings and the hand-off tickets, each from ``since`` (an ISO timestamp) on."""

from __future__ import annotations

from dataclasses import dataclass, field

from bnpl_assistant.storage.connection import Connection
from bnpl_assistant.storage.turns import LoggedTurn, read_conversation_turns


@dataclass(frozen=True)
class Rating:
    conversation_id: str
    at: str
    score: int  # 1-5
    resolved_by: str  # assistant | agent
    topic: str | None


@dataclass(frozen=True)
class HandoffRecord:
    ticket: str
    conversation_id: str
    created_at: str
    closed_at: str | None
    reopened: int
    reason: str
    topic: str | None


@dataclass
class OutcomeLog:
    """Everything the analytics read, by conversation where it belongs to one."""

    turns: dict[str, list[LoggedTurn]]  # conversation id -> its turns in order (whole conversations)
    agent_messages: dict[str, list[str]] = field(default_factory=dict)  # conversation id -> times agents wrote
    ratings: list[Rating] = field(default_factory=list)
    handoffs: dict[str, HandoffRecord] = field(default_factory=dict)  # conversation id -> its (first) ticket


def read_outcome_log(conn: Connection, since: str | None = None, until: str | None = None) -> OutcomeLog:
    """The conversations that started in [``since``, ``until``) with everything written in them."""
    where, args = _window("created_at", since, until)
    ids = [str(r[0]) for r in conn.execute(
        f"SELECT conversation_id FROM turns GROUP BY conversation_id HAVING MIN(created_at) IS NOT NULL{where}",
        args)]
    log = OutcomeLog(read_conversation_turns(conn, ids))
    wanted = set(ids)
    for cid, at in conn.execute("SELECT conversation_id, at FROM messages WHERE role = 'agent' ORDER BY id"):
        if cid in wanted:
            log.agent_messages.setdefault(str(cid), []).append(str(at))
    for row in conn.execute("SELECT conversation_id, at, score, resolved_by, topic FROM ratings ORDER BY id"):
        if row[0] in wanted:
            log.ratings.append(Rating(str(row[0]), str(row[1]), int(row[2]), str(row[3]), row[4]))
    for row in conn.execute("SELECT ticket, conversation_id, created_at, closed_at, reopened, reason, topic "
                            "FROM handoffs WHERE ticket IS NOT NULL ORDER BY id"):
        if row[1] in wanted and row[1] not in log.handoffs:
            log.handoffs[str(row[1])] = HandoffRecord(str(row[0]), str(row[1]), str(row[2]), row[3], int(row[4]),
                                                      str(row[5]), row[6])
    return log


def _window(column: str, since: str | None, until: str | None) -> tuple[str, tuple[str, ...]]:
    """A HAVING clause on the conversation's first ``column`` value, and its arguments."""
    parts, args = [], []
    if since:
        parts.append(f"MIN({column}) >= ?")
        args.append(since)
    if until:
        parts.append(f"MIN({column}) < ?")
        args.append(until)
    return ("".join(f" AND {p}" for p in parts), tuple(args))
