"""Is a message an account request, and for which action: the intents data (a pack's ``account_intents.yaml``:
rules, labelled examples, what is deferred to the FAQ or a person) and the detector that reads it.

Clear rules decide first; otherwise the nearest labelled examples on the e5 query vector, for messages
about the customer's own account. Hand-off topics (fraud, hardship...), how-to questions and attacks are not
account requests (left to the FAQ and the policy).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bnpl_assistant.act.registry import ACTIONS
from bnpl_assistant.act.slots import Slots
from bnpl_assistant.classify import rules
from bnpl_assistant.errors import DataError
from bnpl_assistant.yamlio import YAMLError, read_yaml

NONE = "none"
_I = re.IGNORECASE


@dataclass(frozen=True)
class Rule:
    """A clear phrasing of an action; ``personal``: about the customer's own account by itself."""

    intent: str
    pattern: re.Pattern[str]
    personal: bool = False


@dataclass(frozen=True)
class IntentData:
    """A pack's ``account_intents.yaml``, compiled."""

    topics: dict[str, str]
    rules: tuple[Rule, ...]
    procedural: re.Pattern[str]
    defer: tuple[re.Pattern[str], ...]
    attacks: tuple[re.Pattern[str], ...]
    other_person: tuple[re.Pattern[str], ...]
    personal: re.Pattern[str]
    yes: re.Pattern[str]
    no: re.Pattern[str]
    exemplars: tuple[tuple[str, str], ...]  # (label, text)
    k: int = 3
    margin: float = 0.01


@dataclass(frozen=True)
class Intent:
    """The action a message asks for, how sure, and what decided it."""

    action: str
    score: float
    via: str  # "rule" | "nearest" | "order-id" | "tool-call" | "follow-up"


def load_intents(path: Path | None = None) -> IntentData:
    """Read and compile an account intents file.

    Args:
        path: the file; default the demo pack's.

    Returns:
        The compiled rules, patterns and examples.

    Raises:
        DataError: the file is malformed or names an unknown action or topic.
    """
    path = path or demo_intents_path()
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot read the account intents file: {exc.strerror}", where) from exc
    try:
        raw = read_yaml(text) or {}
        compiled = [Rule(r["intent"], re.compile(r["pattern"], _I), bool(r.get("personal", False)))
                    for r in raw["rules"]]
        exemplars = tuple((label, str(t).strip()) for label, by_lang in raw["exemplars"].items()
                          for texts in (by_lang or {}).values() for t in texts or [])
        nearest = raw.get("nearest") or {}
        data = IntentData(
            topics=dict(raw["topics"]), rules=tuple(compiled), procedural=re.compile(raw["procedural"], _I),
            defer=tuple(re.compile(p, _I) for p in raw["defer"]),
            attacks=tuple(re.compile(p, _I) for p in raw.get("attacks") or []),
            other_person=tuple(re.compile(p, _I) for p in raw.get("other_person") or []),
            personal=re.compile(raw["personal"], _I),
            yes=re.compile(raw["confirm_yes"], _I), no=re.compile(raw["confirm_no"], _I), exemplars=exemplars,
            k=int(nearest.get("k", 3)), margin=float(nearest.get("margin", 0.01)))
    except (YAMLError, KeyError, TypeError, re.error) as exc:
        raise DataError(f"invalid account intents file: {exc}", where) from exc
    unknown = ({r.intent for r in data.rules} | {label for label, _ in data.exemplars} | set(data.topics)) - {
        *ACTIONS, NONE}
    if unknown:
        raise DataError(f"unknown account actions {sorted(unknown)}; valid: {', '.join(ACTIONS)}", where)
    return data


def demo_intents_path() -> Path:
    """The demo pack's account intents (the default pack's)."""
    from bnpl_assistant.settings import default_pack_dir

    return default_pack_dir() / "account_intents.yaml"


class IntentDetector:
    """Finds the account action a message asks for, offline and deterministic."""

    def __init__(self, data: IntentData, embed_query: Callable[[str], np.ndarray],
                 embed_examples: Callable[[list[str]], np.ndarray] | None = None) -> None:
        """Args:
            data: the compiled intents file.
            embed_query: the assistant's query embedder (e5 ``query:`` vectors), used for the examples.
            embed_examples: embeds the example texts in one go (e.g. the classifier's disk cache); default:
                ``embed_query`` each.
        """
        self.data = data
        self.embed_query = embed_query
        self.embed_examples = embed_examples
        self._labels: np.ndarray | None = None
        self._matrix: np.ndarray | None = None
        self._lock = threading.Lock()

    def detect(self, text: str, vector: np.ndarray | None, slots: Slots) -> Intent | None:
        """The account action ``text`` asks for, or None (not an account request, or one for a person).

        Args:
            text: the normalised message.
            vector: its query embedding (embedded here when None).
            slots: the slots of ``text`` (an order reference makes a message about one's own account).
        """
        if self.defers(text):
            return None
        anchored = slots.names_order or bool(self.data.personal.search(text))
        if self.data.procedural.search(text) and not slots.names_order:
            return None
        for rule in self.data.rules:
            if rule.pattern.search(text) and (rule.personal or anchored):
                return Intent(rule.intent, 1.0, "rule")
        if not anchored:
            return None
        label, score, margin = self.nearest(vector if vector is not None else self.embed_query(text))
        if label == NONE or margin < self.data.margin:
            return None
        return Intent(label, score, "nearest")

    def nearest(self, vector: np.ndarray) -> tuple[str, float, float]:
        """Best label by the mean similarity of its k nearest examples, its score, and its lead over
        the best "none" score."""
        labels, matrix = self._examples()
        v = np.asarray(vector, dtype=np.float32).ravel()
        norm = float(np.linalg.norm(v))
        sims = matrix @ (v / norm if norm else v)
        scores: dict[str, float] = {}
        for label in sorted(set(labels.tolist())):
            top = np.sort(sims[labels == label])[::-1][: self.data.k]
            scores[label] = float(top.mean())
        best = max((lbl for lbl in scores if lbl != NONE), key=lambda lbl: (scores[lbl], lbl))
        if scores.get(NONE, -1.0) >= scores[best]:
            return NONE, scores.get(NONE, 0.0), scores[best] - scores.get(NONE, 0.0)
        return best, scores[best], scores[best] - scores.get(NONE, -1.0)

    def defers(self, text: str) -> bool:
        """For a person, for the FAQ, or an attack: not acted on."""
        return any(p.search(text) for p in (*self.data.defer, *self.data.attacks))

    def other_person(self, text: str) -> bool:
        """About another person's account, orders or money (refused before anything is looked up)."""
        return rules.asks_for_other_person(text) or any(p.search(text) for p in self.data.other_person)

    def confirms(self, text: str) -> bool:
        """A yes to a yes/no question."""
        return bool(self.data.yes.search(text))

    def declines(self, text: str) -> bool:
        """A no to a yes/no question."""
        return bool(self.data.no.search(text))

    def warm(self) -> None:
        """Embed the examples now (a server calls this before it takes traffic: done lazily, the first
        account request would hold the embedder for seconds while other customers wait)."""
        self._examples()

    def _examples(self) -> tuple[np.ndarray, np.ndarray]:
        """The example vectors, embedded on first use (or by :meth:`warm`) and kept."""
        with self._lock:
            if self._matrix is None or self._labels is None:
                texts = [t for _, t in self.data.exemplars]
                if self.embed_examples is not None:
                    vectors = np.asarray(self.embed_examples(texts), dtype=np.float32).reshape(len(texts), -1)
                else:
                    vectors = np.stack([np.asarray(self.embed_query(t), dtype=np.float32).ravel()
                                        for t in texts])
                norms = np.linalg.norm(vectors, axis=1, keepdims=True)
                self._matrix = vectors / np.where(norms == 0, 1, norms)
                self._labels = np.array([label for label, _ in self.data.exemplars])
            return self._labels, self._matrix
