"""Production failures as eval tickets: ``bnpl-assistant export-evals --flagged --since 30d --out FILE.jsonl``.

A conversation is *flagged* at its first turn that got a thumbs-down, that handed it to a person (outcome
``escalate``), or whose hand-off ticket the customer reopened. Each flagged conversation becomes one ticket in
the dataset format (DESIGN.md): the customer's messages up to and including that turn (``message`` for one,
``turns`` for several), redacted, with the assistant's outcome and topic as ``suggested_outcome`` /
``suggested_topic`` and an empty ``expected_outcome`` / ``expected_topic`` for a person to fill in. ``eval``
counts such unlabelled rows and skips them (``evals/dataset.py``), so the file can be evaluated as it is filled.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bnpl_assistant.analytics.logfile import read_log
from bnpl_assistant.errors import DataError
from bnpl_assistant.redact import redact
from bnpl_assistant.storage import LoggedTurn, read_conversation_turns, read_reopened_tickets, read_turns

THUMBS_DOWN, HANDED_OFF, REOPENED = "thumbs_down", "handed_off", "reopened"
_SINCE = re.compile(r"^\s*(\d+)\s*([dhw])\s*$")


def parse_since(value: str, now: datetime | None = None) -> str:
    """An ISO timestamp from ``30d``, ``12h``, ``2w`` (before ``now``) or a date / timestamp as it is.

    Raises:
        DataError: anything else.
    """
    now = now or datetime.now(UTC)
    match = _SINCE.match(value)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        delta = {"d": timedelta(days=amount), "h": timedelta(hours=amount), "w": timedelta(weeks=amount)}[unit]
        return (now - delta).isoformat(timespec="milliseconds")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise DataError(f"--since '{value}' is neither a span like 30d, 12h or 2w nor a date like 2026-11-01") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Flagged:
    """A conversation up to the turn it was flagged at, and why."""

    turns: list[LoggedTurn]
    flags: list[str]

    @property
    def last(self) -> LoggedTurn:
        return self.turns[-1]


def _flags(turn: LoggedTurn, reopened: set[str]) -> list[str]:
    flags = []
    if turn.feedback == -1:
        flags.append(THUMBS_DOWN)
    if turn.outcome == "escalate":
        flags.append(HANDED_OFF)
        if turn.ticket and turn.ticket in reopened:
            flags.append(REOPENED)
    return flags


def flagged_conversations(turns_by_conversation: dict[str, list[LoggedTurn]], reopened: set[str],
                          since: str | None = None) -> list[Flagged]:
    """Each conversation cut at its first flagged turn (at or after ``since``), oldest first."""
    out = []
    for turns in turns_by_conversation.values():
        for k, turn in enumerate(turns):
            flags = _flags(turn, reopened)
            if flags and (since is None or turn.created_at >= since):
                out.append(Flagged(turns[: k + 1], flags))
                break
    return sorted(out, key=lambda f: (f.last.created_at, f.last.conversation_id))


def ticket_row(flagged: Flagged) -> dict[str, Any]:
    """The dataset row of a flagged conversation (see the module docstring)."""
    last = flagged.last
    messages = [redact(t.message) for t in flagged.turns]
    row: dict[str, Any] = {"id": f"log-{last.conversation_id}-{last.turn_index}", "language": last.language}
    if len(messages) == 1:
        row["message"] = messages[0]
    else:
        row["turns"] = messages
    row.update({
        "expected_topic": None, "expected_outcome": None, "expected_facts": [],
        "suggested_outcome": last.outcome, "suggested_topic": last.topic, "flags": flagged.flags,
        "reply": redact(last.reply), "reason": last.reason or None, "ticket": last.ticket,
        "feedback_comment": redact(last.feedback_comment) if last.feedback_comment else None,
        "conversation_id": last.conversation_id, "flagged_at": last.created_at, "source": "log",
    })
    if last.customer_id:
        row["customer_id"] = last.customer_id  # account questions replay against the same demo account
    return row


def export_flagged(db_path: Path | str, out: Path, since: str | None = None) -> int:
    """Write the flagged conversations of the log at ``db_path`` to ``out`` (JSON Lines); returns the count.

    Raises:
        DataError: there is no log at ``db_path`` yet.
    """
    with read_log(db_path, "nothing to export") as conn:
        recent = read_turns(conn, since)
        reopened = read_reopened_tickets(conn)
        candidates = sorted({t.conversation_id for t in recent if _flags(t, reopened)})
        flagged = flagged_conversations(read_conversation_turns(conn, candidates), reopened, since)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as file:
        for item in flagged:
            file.write(json.dumps(ticket_row(item), ensure_ascii=False) + "\n")
    tmp.replace(out)
    return len(flagged)
