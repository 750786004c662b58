"""The records the assistant works with: a conversation, its turns, and a reply."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

from bnpl_assistant.act.state import PendingAction

Outcome = Literal["answer", "escalate", "refuse", "act"]
OUTCOMES: tuple[str, ...] = get_args(Outcome)  # the one list of what the assistant can do with a message


@dataclass
class Turn:
    role: str  # "customer" | "assistant" | "agent" (a person who took the conversation over)
    text: str
    language: str | None = None
    topic: str | None = None
    outcome: str | None = None
    tool: str | None = None  # the account action an assistant turn carried out


@dataclass
class Conversation:
    """One chat. ``customer_id`` is the signed-in customer (from the session, never from message text)."""

    id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    customer_id: str | None = None
    turns: list[Turn] = field(default_factory=list)
    pending_action: PendingAction | None = None  # the account question waiting for the next message

    @property
    def language(self) -> str | None:
        for turn in reversed(self.turns):
            if turn.role == "customer" and turn.language:
                return turn.language
        return None

    def last_customer_texts(self, n: int = 2) -> list[str]:
        return [t.text for t in self.turns if t.role == "customer"][-n:]

    @property
    def last_topic(self) -> str | None:
        for turn in reversed(self.turns):
            if turn.role == "assistant" and turn.topic:
                return turn.topic
        return None

    def last_assistant_turn(self) -> Turn | None:
        for turn in reversed(self.turns):
            if turn.role == "assistant":
                return turn
        return None

    def recent_failures(self, window: int = 3) -> int:
        """Refusals for low confidence in the last ``window`` assistant turns."""
        replies = [t for t in self.turns if t.role == "assistant"][-window:]
        return sum(1 for t in replies if t.outcome == "refuse" and t.topic == "_unsure")


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    language: str
    passage: str = ""


@dataclass(frozen=True)
class Reply:
    """What the assistant did with one message. Built once per path, never patched: a later step that
    adds something (the model's text, the ticket, the log's turn id) makes a new one with ``replace``."""

    text: str
    outcome: Outcome
    topic: str | None
    retrieved_topics: list[str]
    sources: list[Source]
    language: str
    confidence: float
    model_path: str = "offline"
    timings_ms: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    team: str | None = None
    ticket_id: str | None = None
    fell_back: bool = False
    fallback_reason: str = ""
    truncated: bool = False
    tool: str | None = None
    turn_id: int | None = None  # the conversation log's id of this turn (for feedback)
    note: str = ""  # template line shown with the reply (e.g. "answer from the English article")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
