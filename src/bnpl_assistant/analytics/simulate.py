"""``bnpl-assistant simulate --conversations N --seed S``: a week of traffic through the real assistant and desk.

Scripted customers, not a model of any real population: each conversation replays a ticket of the dev set (the
demo pack) or of the pack's labelled tickets, on a simulated clock spread over ``days`` and through the same
:class:`~bnpl_assistant.support.desk.SupportDesk` and :class:`~bnpl_assistant.support.agents.AgentDesk` the page
uses, so the log, the tickets, the chat messages and the ratings are what real traffic would leave. A customer
is *satisfied* when the assistant did what the ticket expects (outcome, and topic where one is expected); that
decides thumbs, ratings, asking for a person after an unhelpful answer and coming back within days (a reopen).
Handed-off conversations are claimed, answered and closed by an agent after a delay and rated. Everything random
comes from one ``random.Random(seed)``: the same seed on the same data gives the same log.
"""

from __future__ import annotations

import heapq
import json
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bnpl_assistant.conversation import Reply

AGENTS = ("kim", "sam", "lee")
P_SIGNED_IN = 0.5
P_THUMBS = 0.35  # a customer rates the reply with a thumb
P_RATING = 0.4  # a customer rates the conversation 1-5 at the end
P_ASK_PERSON = 0.35  # an unsatisfied customer then asks for a person
P_COME_BACK = 0.5  # an unsatisfied signed-in customer comes back on the same question within 1-6 days


@dataclass(frozen=True)
class Script:
    """What one scripted customer says and what would satisfy them."""

    turns: list[str]
    language: str
    expected_outcome: str
    expected_topic: str | None


@dataclass(order=True)
class _Visit:
    at: datetime
    seq: int
    script: Script = field(compare=False)
    customer: str | None = field(compare=False)
    returning: bool = field(compare=False, default=False)


@dataclass
class SimClock:
    """The simulated time every store reads (``assemble(..., clock=...)``)."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class SimulationSummary:
    conversations: int = 0
    returning: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    handed_off: int = 0
    agent_closed: int = 0
    thumbs: Counter[str] = field(default_factory=Counter)
    ratings: int = 0
    asked_for_person: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"conversations": self.conversations, "returning_customers": self.returning,
                "outcomes": dict(self.outcomes), "handed_off": self.handed_off, "agent_closed": self.agent_closed,
                "thumbs": dict(self.thumbs), "ratings": self.ratings, "asked_for_person": self.asked_for_person}


def load_scripts(dev_set: Path | None, ticket_rows: Sequence[tuple[str, str, str | None]]) -> list[Script]:
    """Scripts from a dataset file (DESIGN.md's format) and from ``(text, language, label)`` pack tickets
    (label: a topic id, ``handoff`` or ``out_of_scope``)."""
    scripts = []
    if dev_set is not None and dev_set.is_file():
        for line in dev_set.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                turns = row.get("turns") or [row["message"]]
                scripts.append(Script(list(turns), row["language"], row["expected_outcome"], row.get("expected_topic")))
    for text, language, label in ticket_rows:
        outcome = {"handoff": "escalate", "out_of_scope": "refuse"}.get(label or "", "answer")
        scripts.append(Script([text], language, outcome, label if outcome == "answer" else None))
    return scripts


def _satisfied(script: Script, reply: Reply) -> bool:
    if reply.outcome != script.expected_outcome:
        return False
    return script.expected_topic is None or reply.topic == script.expected_topic


def simulate(desk: Any, agents: Any, clock: SimClock, scripts: list[Script], customers: list[str],
             conversations: int, seed: int, days: float = 7.0,
             progress: Callable[[int], None] | None = None) -> SimulationSummary:
    """Run ``conversations`` scripted conversations (returning customers included) from ``clock.now`` over
    ``days`` days through ``desk`` (a SupportDesk) and ``agents`` (an AgentDesk)."""
    if not scripts:
        raise ValueError("nothing to simulate: no scripts")
    rng = random.Random(seed)
    start = clock.now
    visits: list[_Visit] = []
    for seq in range(conversations):
        at = start + timedelta(seconds=rng.uniform(0, days * 86400))
        customer = rng.choice(customers) if customers and rng.random() < P_SIGNED_IN else None
        heapq.heappush(visits, _Visit(at, seq, rng.choice(scripts), customer))
    summary = SimulationSummary()
    seq = conversations
    while visits and summary.conversations < conversations:
        visit = heapq.heappop(visits)
        clock.now = max(clock.now, visit.at)
        came_back = _conversation(desk, agents, clock, rng, visit, summary)
        if came_back is not None:
            seq += 1
            heapq.heappush(visits, _Visit(came_back, seq, visit.script, visit.customer, returning=True))
        if progress:
            progress(1)
    return summary


def _conversation(desk: Any, agents: Any, clock: SimClock, rng: random.Random, visit: _Visit,
                  summary: SimulationSummary) -> datetime | None:
    """One conversation; returns when the customer comes back, if they do."""
    summary.conversations += 1
    summary.returning += visit.returning
    session = desk.new_session(visit.customer)
    reply: Reply | None = None
    for text in visit.script.turns:
        clock.advance(rng.uniform(5, 45))
        sent = desk.send(session, text, visit.script.language)
        if isinstance(sent, Reply):
            reply = sent
    if reply is None:
        return None
    summary.outcomes[reply.outcome] += 1
    satisfied = _satisfied(visit.script, reply)
    if reply.outcome in ("answer", "act") and rng.random() < P_THUMBS:
        clock.advance(rng.uniform(3, 20))
        desk.feedback(reply.turn_id, 1 if satisfied else -1)
        summary.thumbs["up" if satisfied else "down"] += 1
    if reply.outcome in ("answer", "act", "refuse") and not satisfied and rng.random() < P_ASK_PERSON:
        clock.advance(rng.uniform(10, 60))
        asked = desk.talk_to_person(session, visit.script.language)
        if asked is not None:
            summary.asked_for_person += 1
            reply = asked
    if reply.outcome == "escalate" and reply.ticket_id:
        summary.handed_off += 1
        _agent_handles(agents, clock, rng, reply.ticket_id)
        summary.agent_closed += 1
        satisfied = rng.random() < 0.8  # a person solved it, most of the time
    if rng.random() < P_RATING:
        clock.advance(rng.uniform(5, 60))
        score = rng.choice((4, 5, 5)) if satisfied else rng.choice((1, 2, 2, 3))
        desk.rate_conversation(session, score)
        summary.ratings += 1
    if visit.customer and not satisfied and not visit.returning and rng.random() < P_COME_BACK:
        return clock.now + timedelta(days=rng.uniform(1, 6))
    return None


def _agent_handles(agents: Any, clock: SimClock, rng: random.Random, ticket: str) -> None:
    """An agent claims the ticket after a wait, answers with the suggested reply and closes it."""
    agent = rng.choice(AGENTS)
    clock.advance(rng.uniform(2, 40) * 60)
    agents.claim(ticket, agent)
    clock.advance(rng.uniform(1, 4) * 60)
    agents.send(ticket, agent, agents.suggestion(ticket) or "I have looked into this for you.")
    clock.advance(rng.uniform(2, 25) * 60)
    agents.close(ticket, "resolved")


def week_start(now: datetime | None = None, days: float = 7.0) -> datetime:
    """The simulated clock's start: ``days`` before ``now`` (default: now, UTC)."""
    return (now or datetime.now(UTC)) - timedelta(days=days)
