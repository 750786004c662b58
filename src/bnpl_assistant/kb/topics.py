"""Support topics from a pack's ``topics.yaml`` (the demo pack's is ``knowledge/topics.yaml``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bnpl_assistant.errors import DataError
from bnpl_assistant.yamlio import YAMLError, read_yaml

TOPIC_OUTCOMES = ("answer", "escalate")  # what a topic can lead to (a subset of conversation.OUTCOMES)


@dataclass(frozen=True)
class Topic:
    """One support topic: what it covers and who takes it."""

    id: str
    category: str
    scope: str
    outcome: str
    team: str | None = None
    priority: int = 5
    # The topic is about an account that is not the writer's own (the account holder has died): a message
    # about a relative's account that lands on it goes to its team instead of being declined.
    others_account: bool = False
    title: str = ""  # a short name (packs); the scope stands in when there is none
    answer: str | None = None  # a short answer for a topic that has no article (packs)
    intent_only: bool = False  # known from labelled tickets only: no article expected (packs)


class TopicCatalog:
    """The topics by id, in file order."""

    def __init__(self, topics: list[Topic]) -> None:
        self._topics = {t.id: t for t in topics}

    def __contains__(self, topic_id: object) -> bool:
        return topic_id in self._topics

    def __getitem__(self, topic_id: str) -> Topic:
        return self._topics[topic_id]

    def __iter__(self) -> Iterator[Topic]:
        return iter(self._topics.values())

    def __len__(self) -> int:
        return len(self._topics)

    @property
    def ids(self) -> list[str]:
        return list(self._topics)

    def get(self, topic_id: str | None) -> Topic | None:
        return self._topics.get(topic_id) if topic_id else None


def load_topics(path: Path) -> TopicCatalog:
    """Read and check ``topics.yaml``.

    Raises:
        DataError: the file is missing or a topic entry is invalid.
    """
    if not path.exists():
        raise DataError("topics file not found; point BNPL_PACK at a pack folder (see docs/packs.md)", str(path))
    try:
        raw = read_yaml(path.read_text(encoding="utf-8")) or {}
    except YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise DataError(f"invalid YAML: {exc}", str(path), line + 1 if line is not None else None) from exc
    entries = raw.get("topics") if isinstance(raw, dict) else None
    if not isinstance(entries, list) or not entries:
        raise DataError("expected a 'topics:' list", str(path))
    topics: list[Topic] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not {"id", "category", "outcome"} <= entry.keys() or not (
                entry.get("scope") or entry.get("title")):
            raise DataError(f"topic #{i + 1} needs id, category, outcome and a title or scope", str(path))
        if entry["outcome"] not in TOPIC_OUTCOMES:
            raise DataError(f"topic {entry['id']}: outcome must be one of {TOPIC_OUTCOMES}", str(path))
        if entry["outcome"] == "escalate" and not entry.get("team"):
            raise DataError(f"topic {entry['id']}: an escalate topic must name its team", str(path))
        if entry["id"] in seen:
            raise DataError(f"duplicate topic id {entry['id']}", str(path))
        seen.add(entry["id"])
        topics.append(
            Topic(
                id=str(entry["id"]),
                category=str(entry["category"]),
                scope=str(entry.get("scope") or entry["title"]),
                outcome=str(entry["outcome"]),
                team=entry.get("team"),
                priority=int(entry.get("priority", 5)),
                others_account=bool(entry.get("others_account", False)),
                title=str(entry.get("title") or entry.get("scope")),
                answer=str(entry["answer"]).strip() if entry.get("answer") else None,
                intent_only=bool(entry.get("intent_only", False)),
            )
        )
    return TopicCatalog(topics)
