"""The typed result row: one ticket's outcome, as written to ``results.jsonl`` (contract in DESIGN.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bnpl_assistant.conversation import Reply
from bnpl_assistant.evals.dataset import Ticket


@dataclass(frozen=True)
class ResultRow:
    """What the assistant did with one ticket (the reply to its last turn) and what was expected.

    The first fields are the results contract; ``extra`` carries the ticket's own additional keys through.
    """

    id: str
    outcome: str
    topic: str | None
    retrieved_topics: list[str]
    language: str
    reply: str
    sources: list[str]
    latency_ms: float
    conversation_ms: float
    ticket_language: str
    message: str
    expected_topic: str | None
    expected_outcome: str
    expected_facts: list[str]
    expected_tool: str | None
    customer_id: str | None
    tool: str | None
    reason: str
    confidence: float
    model_path: str
    fell_back: bool
    note: str
    turns: int
    groundedness: float | None
    reply_language: str
    language_match: bool
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, ticket: Ticket, reply: Reply, *, latency_ms: float, conversation_ms: float,
           groundedness: float | None, reply_language: str, language_match: bool) -> ResultRow:
        return cls(
            id=ticket.id, outcome=reply.outcome, topic=reply.topic, retrieved_topics=reply.retrieved_topics,
            language=reply.language, reply=reply.text, sources=[s.id for s in reply.sources],
            latency_ms=round(latency_ms, 2), conversation_ms=round(conversation_ms, 2),
            ticket_language=ticket.language, message=ticket.message, expected_topic=ticket.expected_topic,
            expected_outcome=ticket.expected_outcome, expected_facts=ticket.expected_facts,
            expected_tool=ticket.expected_tool, customer_id=ticket.customer_id, tool=reply.tool,
            reason=reply.reason, confidence=round(reply.confidence, 4), model_path=reply.model_path,
            fell_back=reply.fell_back, note=reply.note, turns=len(ticket.turns), groundedness=groundedness,
            reply_language=reply_language, language_match=language_match,
            extra={k: v for k, v in ticket.extra.items() if k != "message"})

    def to_dict(self) -> dict[str, Any]:
        """The flat JSON object of ``results.jsonl`` (the ticket's extra keys at the top level)."""
        row = asdict(self)
        extra = row.pop("extra")
        return {**row, **{k: v for k, v in extra.items() if k not in row}}
