"""Labelled training messages for the classifiers, and a disk cache of their embeddings.

Sources: the engine's generic gate examples (``data/gates.yaml``: requests for a person, off-topic messages,
injection attempts, in many languages), the pack's labelled tickets (``tickets/*.jsonl|csv``: its topics, and
its own ``out_of_scope`` and ``handoff`` examples) and the titles / ``questions`` of the pack's articles.
Evaluation sets are never read here.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from bnpl_assistant.errors import DataError
from bnpl_assistant.kb.articles import Article
from bnpl_assistant.packs.tickets import HANDOFF, OUT_OF_SCOPE, LabelledTicket, read_tickets
from bnpl_assistant.providers.base import Embedder
from bnpl_assistant.yamlio import YAMLError, read_yaml

log = logging.getLogger(__name__)

GATE_LABELS = ("support", "handoff", "offtopic", "injection")
GATES_FILE = "data/gates.yaml"
NEUTRAL = "other"  # a ticket without a language: it trains every language's classifier
TICKET_GATES = {OUT_OF_SCOPE: "offtopic", HANDOFF: "handoff"}


@dataclass(frozen=True)
class Exemplar:
    text: str
    topic: str | None  # a topic id for support messages
    gate: str  # one of GATE_LABELS
    language: str


@cache
def gates_text() -> str:
    """The engine's gate examples file, as text (also part of the stored classifier's key)."""
    return resources.files("bnpl_assistant").joinpath(GATES_FILE).read_text(encoding="utf-8")


def gate_exemplars(company: str) -> list[Exemplar]:
    """The generic gate examples, with the pack's company name filled in."""
    try:
        raw: Any = read_yaml(gates_text()) or {}
    except YAMLError as exc:
        raise DataError(f"invalid gates file: {exc}", GATES_FILE) from exc
    out: list[Exemplar] = []
    for gate, by_lang in (raw.get("gates") or {}).items():
        if gate not in GATE_LABELS:
            raise DataError(f"unknown gate class '{gate}'", GATES_FILE)
        for lang, texts in (by_lang or {}).items():
            for text in texts or []:
                filled = str(text).replace("{company_lc}", company.lower()).replace("{company}", company)
                out.append(Exemplar(filled.strip(), None, gate, lang))
    return out


def ticket_exemplar(ticket: LabelledTicket) -> Exemplar:
    """A pack ticket as a training message: a topic's support example, or a gate example. An ``out_of_scope``
    ticket is both an off-topic gate example and an example of the topic model's own ``out_of_scope`` class,
    where it competes with the pack's topics directly (a question close to a supported one, but not supported)."""
    gate = TICKET_GATES.get(ticket.label)
    topic = OUT_OF_SCOPE if ticket.label == OUT_OF_SCOPE else (None if gate else ticket.label)
    return Exemplar(ticket.text, topic, gate or "support", ticket.language or NEUTRAL)


def load_exemplars(articles: list[Article], topic_ids: list[str], ticket_files: list[Path] | None = None,
                   company: str = "the company") -> list[Exemplar]:
    """Every labelled message, deduplicated (the first label of a text wins) and sorted (deterministic training).

    Args:
        articles: the pack's articles (their titles and listed questions are examples of their topic).
        topic_ids: the pack's topics; a ticket naming another label is an error.
        ticket_files: the pack's labelled tickets.
        company: the pack's company name, for the gate examples that name it.
    """
    out: dict[str, Exemplar] = {}
    tickets = read_tickets(ticket_files or [], set(topic_ids))
    for exemplar in [*map(ticket_exemplar, tickets), *gate_exemplars(company)]:
        out.setdefault(exemplar.text, exemplar)
    for art in articles:
        for text in (art.title, *art.questions):
            out.setdefault(text.strip(), Exemplar(text.strip(), art.topic, "support", art.language))
    return sorted(out.values(), key=lambda e: (e.gate, e.topic or "", e.text))


class EmbeddingCache:
    """Query embeddings of exemplar texts, on disk per embedder, so start-up does not re-embed them."""

    def __init__(self, cache_dir: Path, embedder: Embedder) -> None:
        safe = hashlib.sha1(embedder.name.encode()).hexdigest()[:10]
        self.path = cache_dir / f"exemplars-{safe}.npz"
        self.embedder = embedder

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha1(text.encode()).hexdigest()

    def embed(self, texts: list[str]) -> np.ndarray:
        known: dict[str, np.ndarray] = {}
        if self.path.exists():
            try:
                with np.load(self.path) as data:
                    known = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))
            except (OSError, ValueError, KeyError) as exc:
                log.warning("ignoring unreadable embedding cache %s: %s", self.path, exc)
        keys = [self._key(t) for t in texts]
        missing = [t for t, k in zip(texts, keys, strict=True) if k not in known]
        if missing:
            log.info("embedding %d classifier exemplars", len(missing))
            for start in range(0, len(missing), 512):  # the embedder batches within each part
                part = missing[start : start + 512]
                for text, vector in zip(part, self.embedder.embed_queries(part), strict=True):
                    known[self._key(text)] = vector
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp.npz")
            np.savez(tmp, keys=np.array(list(known)), vectors=np.stack(list(known.values())))
            tmp.replace(self.path)
        return np.stack([known[k] for k in keys]) if keys else np.zeros((0, 384), dtype=np.float32)
