"""Outcome analytics from the live log: what happened in each conversation, and the rates a support manager
reads (coverage, autonomous and durable resolution, hand-offs by reason, reopens, CSAT and time to resolution
for the assistant and for agents), overall and by day, topic and language. Definitions: ``docs/metrics.md``."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from bnpl_assistant.deflection.inputs import wilson_interval
from bnpl_assistant.storage.outcomes import OutcomeLog, Rating

REOPEN_DAYS = 7
ASSISTANT_REPLIES = ("answer", "act", "refuse", "escalate")
# The hand-off reasons the policy and the page log, in the field's categories.
REASON_CATEGORIES = {"customer-asked-for-human": "asked for a person", "customer-pressed-button": "asked for a person",
                     "low-confidence": "low confidence", "repeated-failure": "repeated failure",
                     "store-unavailable": "store unavailable", "staff-pretext": "escalation topic"}


def reason_category(reason: str) -> str:
    """The category of a logged hand-off reason (``topic:<id>`` is an escalation topic)."""
    if reason.startswith("topic:"):
        return "escalation topic"
    return REASON_CATEGORIES.get(reason, "other")


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


@dataclass(frozen=True)
class ConversationOutcome:
    """How one conversation went (see ``docs/metrics.md`` for each flag)."""

    id: str
    customer_id: str | None
    started_at: str
    ended_at: str
    day: str
    language: str
    topic: str | None
    assistant_took_part: bool
    assistant_answered: bool
    handed_off: bool
    handoff_reason: str | None  # category
    human_replied: bool
    thumbs_down: bool
    autonomous: bool
    reopened: bool
    durable_known: bool  # its reopen window has passed
    durable: bool
    assistant_minutes: float | None  # time to resolution when the assistant resolved it alone
    agent_minutes: float | None  # time to the ticket's close when a person did


def conversation_outcomes(log: OutcomeLog, as_of: datetime) -> list[ConversationOutcome]:
    """Every conversation of ``log`` classified; ``as_of`` decides whose reopen window has passed."""
    conversations = [(cid, turns, next((t.topic for t in turns if t.topic), None))
                     for cid, turns in log.turns.items() if turns]
    # Who came back: a customer's later conversation on the same topic within the window reopens the earlier one.
    later: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for _, turns, topic in conversations:
        if turns[0].customer_id and topic:
            later[(turns[0].customer_id, topic)].append(_time(turns[0].created_at))
    out = []
    for cid, turns, topic in conversations:
        started, ended = _time(turns[0].created_at), _time(turns[-1].created_at)
        escalations = [t for t in turns if t.outcome == "escalate"]
        ticket = log.handoffs.get(cid)
        handed_off = bool(escalations) or ticket is not None
        reason = escalations[0].reason if escalations else (ticket.reason if ticket else None)
        answered = any(t.outcome in ("answer", "act") for t in turns)
        human = bool(log.agent_messages.get(cid))
        down = any(t.feedback == -1 for t in turns)
        autonomous = answered and not handed_off and not human and not down
        window_end = ended + timedelta(days=REOPEN_DAYS)
        came_back = bool(turns[0].customer_id and topic and any(
            ended < t <= window_end for t in later[(str(turns[0].customer_id), str(topic))]))
        reopened = came_back or bool(ticket and ticket.reopened)
        durable_known = as_of >= window_end  # the same rule for every conversation: no bias toward reopens
        assistant_minutes = None
        if autonomous:
            last_latency = (turns[-1].latency_ms or 0.0) / 60000
            assistant_minutes = (ended - started).total_seconds() / 60 + last_latency
        agent_minutes = None
        if ticket is not None and ticket.closed_at:
            agent_minutes = (_time(ticket.closed_at) - started).total_seconds() / 60
        out.append(ConversationOutcome(
            id=cid, customer_id=turns[0].customer_id, started_at=turns[0].created_at, ended_at=turns[-1].created_at,
            day=turns[0].created_at[:10], language=turns[0].language, topic=topic,
            assistant_took_part=any(t.outcome in ASSISTANT_REPLIES for t in turns), assistant_answered=answered,
            handed_off=handed_off, handoff_reason=reason_category(reason) if handed_off and reason else None,
            human_replied=human, thumbs_down=down, autonomous=autonomous, reopened=reopened,
            durable_known=durable_known, durable=autonomous and durable_known and not reopened,
            assistant_minutes=assistant_minutes, agent_minutes=agent_minutes))
    return sorted(out, key=lambda o: (o.started_at, o.id))


def _share(hits: int, n: int) -> dict[str, Any]:
    if n == 0:
        return {"value": None, "low": None, "high": None, "n": 0}
    low, high = wilson_interval(hits, n)
    return {"value": hits / n, "low": low, "high": high, "n": n}


def _csat(ratings: list[Rating]) -> dict[str, Any]:
    """CSAT: the share of ratings of 4 or 5, with its interval, and the mean score."""
    satisfied = sum(1 for r in ratings if r.score >= 4)
    return {**_share(satisfied, len(ratings)),
            "mean_score": statistics.fmean(r.score for r in ratings) if ratings else None}


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summarise(outcomes: list[ConversationOutcome], ratings: list[Rating]) -> dict[str, Any]:
    """The rates over ``outcomes`` (each a share with its Wilson 95% interval and n) and the ratings' CSAT."""
    n = len(outcomes)
    known = [o for o in outcomes if o.durable_known]
    handed = [o for o in outcomes if o.handed_off]
    reasons = Counter(o.handoff_reason or "other" for o in handed)
    ids = {o.id for o in outcomes}
    mine = [r for r in ratings if r.conversation_id in ids]
    return {
        "conversations": n,
        "coverage": _share(sum(o.assistant_took_part for o in outcomes), n),
        "autonomous_resolution": _share(sum(o.autonomous for o in outcomes), n),
        "durable_resolution": _share(sum(o.durable for o in known), len(known)),
        "handoff_rate": _share(len(handed), n),
        "handoff_reasons": {reason: {"count": count, "share_of_handoffs": count / len(handed)}
                            for reason, count in reasons.most_common()},
        "reopen_rate": _share(sum(o.reopened for o in outcomes if o.autonomous or o.handed_off),
                              sum(1 for o in outcomes if o.autonomous or o.handed_off)),
        "csat_assistant": _csat([r for r in mine if r.resolved_by == "assistant"]),
        "csat_agent": _csat([r for r in mine if r.resolved_by == "agent"]),
        "median_minutes_to_resolution_assistant": _median(
            [o.assistant_minutes for o in outcomes if o.assistant_minutes is not None]),
        "median_minutes_to_resolution_agent": _median(
            [o.agent_minutes for o in outcomes if o.agent_minutes is not None]),
    }


def grouped(outcomes: list[ConversationOutcome], ratings: list[Rating],
            key: Callable[[ConversationOutcome], str | None]) -> dict[str, dict[str, Any]]:
    """:func:`summarise` per group (``key`` of each conversation; None is grouped as ``(none)``)."""
    groups: dict[str, list[ConversationOutcome]] = defaultdict(list)
    for o in outcomes:
        groups[key(o) or "(none)"].append(o)
    return {name: summarise(members, ratings) for name, members in sorted(groups.items())}


def outcome_rows(outcomes: list[ConversationOutcome]) -> list[dict[str, Any]]:
    """The per-conversation table (for the JSON report)."""
    return [asdict(o) for o in outcomes]
