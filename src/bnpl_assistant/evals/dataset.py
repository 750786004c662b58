"""Evaluation datasets (JSON Lines, format in DESIGN.md), loaded with line-level errors."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bnpl_assistant.conversation import OUTCOMES
from bnpl_assistant.errors import DataError


@dataclass
class Ticket:
    id: str
    language: str
    turns: list[str]
    expected_topic: str | None
    expected_outcome: str
    customer_id: str | None = None
    expected_facts: list[str] = field(default_factory=list)
    expected_tool: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return self.turns[-1]


@dataclass
class LoadedDataset:
    path: Path
    tickets: list[Ticket]
    bad_lines: list[str] = field(default_factory=list)  # "file:line: reason", with --skip-bad
    unlabelled: list[str] = field(default_factory=list)  # ids of rows whose expected_outcome is still empty

    @property
    def name(self) -> str:
        return self.path.stem


def is_unlabelled(raw: Any) -> bool:
    """A row waiting for a person to label it (``export-evals`` writes them): it has an id and
    ``expected_outcome`` is present but null or empty."""
    return (isinstance(raw, dict) and isinstance(raw.get("id"), str) and bool(raw["id"])
            and "expected_outcome" in raw and raw["expected_outcome"] in (None, ""))


def parse_ticket(raw: Any, topic_ids: set[str] | None = None) -> Ticket:
    """Check one decoded line and build a :class:`Ticket` (raises ValueError with the reason)."""
    if not isinstance(raw, dict):
        raise ValueError("a line must be a JSON object")
    for key in ("id", "language", "expected_outcome"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ValueError(f"'{key}' must be a non-empty string")
    if "expected_topic" not in raw:
        raise ValueError("'expected_topic' is required (a topic id or null)")
    topic = raw["expected_topic"]
    if topic is not None and not isinstance(topic, str):
        raise ValueError("'expected_topic' must be a string or null")
    if topic_ids is not None and topic is not None and topic not in topic_ids:
        raise ValueError(f"unknown expected_topic '{topic}'")
    if raw["expected_outcome"] not in OUTCOMES:
        raise ValueError(f"expected_outcome must be one of {OUTCOMES}")
    if isinstance(raw.get("turns"), list) and raw["turns"] and all(isinstance(t, str) for t in raw["turns"]):
        turns = list(raw["turns"])
    elif isinstance(raw.get("message"), str):
        turns = [raw["message"]]
    else:
        raise ValueError("needs 'message' (string) or 'turns' (non-empty list of strings)")
    facts = raw.get("expected_facts") or []
    if not isinstance(facts, list) or not all(isinstance(f, str) for f in facts):
        raise ValueError("'expected_facts' must be a list of strings")
    known = {"id", "language", "message", "turns", "expected_topic", "expected_outcome", "customer_id",
             "expected_facts", "expected_tool"}
    return Ticket(
        id=raw["id"],
        language=raw["language"],
        turns=turns,
        expected_topic=topic,
        expected_outcome=raw["expected_outcome"],
        customer_id=raw.get("customer_id"),
        expected_facts=list(facts),
        expected_tool=raw.get("expected_tool"),
        extra={k: v for k, v in raw.items() if k not in known},
    )


def load_dataset(path: Path, topic_ids: set[str] | None = None, skip_bad: bool = False) -> LoadedDataset:
    """Read a dataset file. Unlabelled rows (:func:`is_unlabelled`) are counted and skipped.

    Raises:
        DataError: naming the file and line of the first bad line (unless ``skip_bad``), a duplicate id,
            or a file with no ticket.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read dataset: {exc}", str(path)) from exc
    tickets: list[Ticket] = []
    bad: list[str] = []
    unlabelled: list[str] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            if is_unlabelled(raw):  # counted and skipped: not a ticket until a person fills it in
                unlabelled.append(str(raw["id"]))
                continue
            ticket = parse_ticket(raw, topic_ids)
            if ticket.id in seen:
                raise ValueError(f"duplicate id '{ticket.id}'")
        except (json.JSONDecodeError, ValueError, RecursionError) as exc:
            reason = f"invalid JSON: {exc.msg}" if isinstance(exc, json.JSONDecodeError) else str(exc)
            if not skip_bad:
                raise DataError(f"{reason} (use --skip-bad to skip such lines)", str(path), number) from exc
            bad.append(f"{path}:{number}: {reason}")
            continue
        seen.add(ticket.id)
        tickets.append(ticket)
    if not tickets:
        if unlabelled:
            raise DataError(f"all {len(unlabelled)} rows are unlabelled: fill in expected_outcome (and "
                            "expected_topic) first", str(path))
        raise DataError("no tickets in dataset", str(path))
    return LoadedDataset(path, tickets, bad, unlabelled)
