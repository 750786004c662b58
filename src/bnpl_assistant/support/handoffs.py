"""Hand-off tickets: what a person needs to take a conversation over.

``HandoffStore`` implements the assistant's ``HandoffSink``. A ticket holds the customer, language,
reason, topic, team, priority (fraud and hardship first), a short summary (extractive, or written by the
chat model on the OpenAI path) and the full transcript, redacted. With a webhook URL, every new or updated
ticket is queued in the :class:`~bnpl_assistant.support.outbox.Outbox` in the same transaction as the
ticket.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bnpl_assistant.conversation import Conversation, Reply
from bnpl_assistant.errors import BnplError
from bnpl_assistant.providers.base import Summariser
from bnpl_assistant.redact import redact
from bnpl_assistant.storage import Connection, Database, Row
from bnpl_assistant.support.outbox import DeliveryReport, Outbox

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

# Fallback when the topic has no priority of its own (knowledge/topics.yaml): 1 is handled first.
TEAM_PRIORITY = {"fraud": 1, "customer-care-hardship": 1, "collections": 2, "customer-care-bereavement": 2,
                 "complaints": 3, "customer-care": 4}
DEFAULT_PRIORITY = 5
SUMMARY_SENTENCES = 3
SUMMARY_CHARS = 400

# Words that make a sentence worth keeping in the summary (what happened, with what, how urgent).
_SIGNAL = re.compile(
    r"\b(fraud|scam|stolen|hacked|recogni[sz]e|unauthori[sz]ed|afford|job|debt|collection|inkasso|died|death|"
    r"passed away|complaint|refund|return(ed)?|dispute|order|payment|instal?ment|charged|blocked|betrug|"
    r"gestohlen|nicht erkannt|arbeitslos|schulden|verstorben|beschwerde|erstattung|rücksendung|bestellung|"
    r"zahlung|rate|abgebucht|gesperrt)\w*", re.IGNORECASE)
_FACT = re.compile(r"\bord-\d+|\d+[.,]\d{2}\b|\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}\.\d{1,2}\.", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")

_OPEN_FOR_CONVERSATION = ("SELECT ticket, priority FROM handoffs "
                          "WHERE conversation_id = ? AND status != 'closed' ORDER BY id DESC LIMIT 1")
_UPDATE_TICKET = ("UPDATE handoffs SET transcript = ?, summary = ?, summary_by = ?, priority = ?, reason = ?, "
                  "topic = COALESCE(?, topic) WHERE ticket = ?")
# The same customer's ticket on the same topic, closed within REOPEN_DAYS: the case is reopened, not new.
_RECENT_CASE = ("SELECT ticket, priority FROM handoffs WHERE customer_id = ? AND topic = ? AND status = 'closed' "
                "AND closed_at >= ? ORDER BY id DESC LIMIT 1")
_REOPEN = ("UPDATE handoffs SET status = 'open', agent = NULL, claimed_at = NULL, closed_at = NULL, "
           "close_reason = NULL, reopened = reopened + 1, conversation_id = ? WHERE ticket = ?")
REOPEN_DAYS = 7
_INSERT_TICKET = ("INSERT INTO handoffs (created_at, conversation_id, customer_id, language, reason, topic, "
                  "team, priority, summary, summary_by, transcript, status) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open') RETURNING id")


class HandoffError(BnplError):
    """A ticket operation is not possible (unknown ticket, claimed by someone else, closed)."""


@dataclass(frozen=True)
class Ticket:
    """One hand-off ticket as an agent (and the help desk's webhook) sees it."""

    ticket: str
    created_at: str
    conversation_id: str
    customer_id: str | None
    language: str
    reason: str
    topic: str | None
    team: str
    priority: int
    summary: str
    transcript: list[dict[str, Any]]
    status: str  # open | claimed | closed
    agent: str | None = None
    claimed_at: str | None = None
    closed_at: str | None = None
    summary_by: str = "extractive"  # or the chat model that wrote it, e.g. "openai:gpt-4o-mini"
    close_reason: str | None = None
    reopened: int = 0  # times the customer came back on the same topic within REOPEN_DAYS after it closed

    def to_payload(self, event: str = "handoff.created") -> dict[str, Any]:
        """The JSON a help desk receives."""
        return {"event": event, **asdict(self)}


class HandoffStore:
    """Hand-off tickets in the database, with the webhook outbox."""

    def __init__(self, database: Database, webhook_url: str = "",
                 priorities: Mapping[str, int] | None = None,
                 *, timeout_s: float = 5.0, attempts_per_call: int = 3, backoff_s: float = 0.5,
                 clock: Callable[[], datetime] | None = None, sleep: Callable[[float], None] = time.sleep,
                 transport: httpx.BaseTransport | None = None, summariser: Summariser | None = None) -> None:
        """Args:
            database: the opened database (see :func:`bnpl_assistant.storage.open_database`).
            webhook_url: where new and updated tickets are sent through the outbox; empty: not queued.
            priorities: topic id -> priority (1 first), e.g. from ``knowledge/topics.yaml``; teams fall
                back to :data:`TEAM_PRIORITY`.
            timeout_s, attempts_per_call, backoff_s: the outbox's per POST timeout, tries per item and
                call, first back-off (doubling).
            clock, sleep, transport: injectable for tests.
            summariser: a chat model that writes the summary (OpenAI path). Without one, or when it fails,
                the summary is extractive.
        """
        self.database = database
        self.webhook_url = webhook_url.strip()
        self.priorities = dict(priorities or {})
        self._clock = clock or (lambda: datetime.now(UTC))
        self.summariser = summariser
        self.outbox = Outbox(database, self.webhook_url, timeout_s=timeout_s, attempts_per_call=attempts_per_call,
                             backoff_s=backoff_s, clock=self._clock, sleep=sleep, transport=transport)

    # -- HandoffSink ---------------------------------------------------------------------------------

    def open_ticket(self, conversation: Conversation, reply: Reply, message: str) -> str:
        """Create (or, for a conversation that already has an open ticket, update) a hand-off ticket.

        Returns:
            The ticket number, e.g. ``HND-000123``.
        """
        team = reply.team or "customer-care"
        priority = self.priority(reply.topic, team)
        transcript = transcript_of(conversation, message)
        summary, summary_by = self._summary(transcript)
        now = self._now()
        body = json.dumps(transcript, ensure_ascii=False)
        reason = reply.reason or "escalate"
        with self.database.write() as conn:
            row = conn.execute(_OPEN_FOR_CONVERSATION, (conversation.id,)).fetchone()
            recent = self._recent_case(conn, conversation.customer_id, reply.topic) if row is None else None
            if recent is not None:
                row = recent
                conn.execute(_REOPEN, (conversation.id, row["ticket"]))
            if row is not None:
                number, event = row["ticket"], "handoff.updated"
                priority = min(priority, row["priority"])
                conn.execute(_UPDATE_TICKET, (body, summary, summary_by, priority, reason, reply.topic, number))
            else:
                event = "handoff.created"
                values = (now, conversation.id, conversation.customer_id, reply.language, reason, reply.topic,
                          team, priority, summary, summary_by, body)
                ticket_id = int(conn.execute(_INSERT_TICKET, values).fetchone()[0])
                number = f"HND-{ticket_id:06d}"
                conn.execute("UPDATE handoffs SET ticket = ? WHERE id = ?", (number, ticket_id))
            if self.webhook_url:
                self.outbox.enqueue(conn, number, self._get(conn, number).to_payload(event), now)
        log.info("hand-off %s to %s (priority %s)", number, team, priority)
        return str(number)

    def _recent_case(self, conn: Connection, customer_id: str | None, topic: str | None) -> Row | None:
        if not customer_id or not topic:
            return None
        since = (self._clock() - timedelta(days=REOPEN_DAYS)).isoformat(timespec="seconds")
        row: Row | None = conn.execute(_RECENT_CASE, (customer_id, topic, since)).fetchone()
        return row

    def _summary(self, transcript: list[dict[str, Any]]) -> tuple[str, str]:
        """(summary, who wrote it): the chat model's when one is set and answers, else extractive. Runs
        before the write transaction, so a slow provider never holds the database's write lock."""
        if self.summariser is not None:
            try:
                return redact(self.summariser.summarise(transcript)), self.summariser.name
            except BnplError as exc:  # ProviderError: the extractive summary is always there
                log.warning("summary by %s failed, using the extractive one: %s", self.summariser.name, exc)
        return summarise([t["text"] for t in transcript if t["role"] == "customer"]), "extractive"

    # -- agents --------------------------------------------------------------------------------------

    def priority(self, topic: str | None, team: str | None) -> int:
        """The topic's priority when it has one, else the team's (1 is handled first)."""
        if topic and topic in self.priorities:
            return int(self.priorities[topic])
        return TEAM_PRIORITY.get(team or "", DEFAULT_PRIORITY)

    def get(self, ticket: str) -> Ticket:
        """One ticket by number (``HND-000123``, or just ``123``).

        Raises:
            HandoffError: no such ticket.
        """
        with self.database.session() as conn:
            return self._get(conn, ticket)

    def list(self, open_only: bool = False) -> list[Ticket]:
        """Tickets in the order agents take them: not closed first, then priority, then age."""
        sql = "SELECT * FROM handoffs"
        if open_only:
            sql += " WHERE status != 'closed'"
        sql += " ORDER BY status = 'closed', priority, id"
        with self.database.session() as conn:
            return [_ticket(r) for r in conn.execute(sql).fetchall()]

    def claim(self, ticket: str, agent: str) -> Ticket:
        """An agent takes the ticket. Claiming one's own ticket again changes nothing."""
        if not agent.strip():
            raise HandoffError("name the agent who claims the ticket")
        with self.database.write() as conn:
            current = self._get(conn, ticket)
            if current.status == "closed":
                raise HandoffError(f"{current.ticket} is closed")
            if current.status == "claimed":
                if current.agent == agent:
                    return current
                raise HandoffError(f"{current.ticket} is already claimed by {current.agent}")
            conn.execute("UPDATE handoffs SET status = 'claimed', agent = ?, claimed_at = ? WHERE ticket = ?",
                         (agent, self._now(), current.ticket))
            return self._get(conn, current.ticket)

    def close(self, ticket: str, reason: str = "") -> Ticket:
        """Close the ticket with ``reason`` (closing it again changes nothing)."""
        with self.database.write() as conn:
            current = self._get(conn, ticket)
            if current.status != "closed":
                conn.execute("UPDATE handoffs SET status = 'closed', closed_at = ?, close_reason = ? WHERE ticket = ?",
                             (self._now(), reason.strip()[:200] or None, current.ticket))
            return self._get(conn, current.ticket)

    def transfer(self, ticket: str, team: str) -> Ticket:
        """Move the ticket to ``team``'s queue, unclaimed (a closed ticket cannot move)."""
        if not team.strip():
            raise HandoffError("name the team to transfer the ticket to")
        with self.database.write() as conn:
            current = self._get(conn, ticket)
            if current.status == "closed":
                raise HandoffError(f"{current.ticket} is closed")
            conn.execute("UPDATE handoffs SET team = ?, status = 'open', agent = NULL, claimed_at = NULL, "
                         "priority = ? WHERE ticket = ?",
                         (team.strip(), min(current.priority, TEAM_PRIORITY.get(team.strip(), DEFAULT_PRIORITY)),
                          current.ticket))
            return self._get(conn, current.ticket)

    # -- outbox --------------------------------------------------------------------------------------

    def pending_outbox(self) -> int:
        """Outbox items waiting for delivery."""
        return self.outbox.pending()

    def deliver_outbox(self, limit: int = 100) -> DeliveryReport:
        """Deliver the outbox now (see :meth:`Outbox.deliver`)."""
        return self.outbox.deliver(limit)

    # -- internals -----------------------------------------------------------------------------------

    def _now(self) -> str:
        return self._clock().isoformat(timespec="seconds")

    @staticmethod
    def _get(conn: Connection, ticket: str) -> Ticket:
        number = ticket.strip().upper()
        if number.isdigit():
            number = f"HND-{int(number):06d}"
        row = conn.execute("SELECT * FROM handoffs WHERE ticket = ?", (number,)).fetchone()
        if row is None:
            raise HandoffError(f"no hand-off ticket '{ticket}'; list them with `bnpl-assistant handoffs`")
        return _ticket(row)


def _ticket(row: Row) -> Ticket:
    return Ticket(
        ticket=row["ticket"], created_at=row["created_at"], conversation_id=row["conversation_id"],
        customer_id=row["customer_id"], language=row["language"], reason=row["reason"], topic=row["topic"],
        team=row["team"], priority=row["priority"], summary=row["summary"],
        transcript=json.loads(row["transcript"]), status=row["status"], agent=row["agent"],
        claimed_at=row["claimed_at"], closed_at=row["closed_at"], summary_by=row["summary_by"],
        close_reason=row["close_reason"], reopened=row["reopened"])


def transcript_of(conversation: Conversation, message: str) -> list[dict[str, Any]]:
    """Every turn, redacted; ``message`` is added when it is not the last customer turn yet."""
    turns = [{"role": t.role, "text": redact(t.text), "language": t.language, "topic": t.topic,
              "outcome": t.outcome} for t in conversation.turns]
    last = next((t for t in reversed(conversation.turns) if t.role == "customer"), None)
    if message and (last is None or last.text != message):
        turns.append({"role": "customer", "text": redact(message), "language": None, "topic": None,
                      "outcome": None})
    return turns


def summarise(customer_texts: list[str], sentences: int = SUMMARY_SENTENCES,
              max_chars: int = SUMMARY_CHARS) -> str:
    """An extractive summary: the customer's most informative sentences, in their original order.

    A sentence scores for facts (order numbers, amounts, dates), for words that say what happened, and
    for being the opening or the latest message.
    """
    candidates: list[tuple[float, int, str]] = []
    position = 0
    for m, text in enumerate(customer_texts):
        for s, sentence in enumerate(p.strip() for p in _SENTENCE_END.split(text) if p.strip()):
            words = len(sentence.split())
            score = 2.0 * bool(_FACT.search(sentence)) + min(len(_SIGNAL.findall(sentence)), 3)
            score += 1.0 if (m == 0 and s == 0) else 0.0
            score += 1.0 if m == len(customer_texts) - 1 else 0.0
            score -= 1.0 if words < 3 else 0.0
            candidates.append((score, position, sentence))
            position += 1
    if not candidates:
        return ""
    best = sorted(candidates, key=lambda c: (-c[0], c[1]))[:sentences]
    summary = " ".join(c[2] for c in sorted(best, key=lambda c: c[1]))
    return summary if len(summary) <= max_chars else summary[: max_chars - 1].rstrip() + "…"
