"""Labelled training messages for the classifiers, and a disk cache of their embeddings.

Sources, all written for this project: ``data/exemplars.yaml`` and the ``questions`` / titles in the
knowledge articles' front matter. Evaluation sets are never read here.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from bnpl_assistant.errors import DataError
from bnpl_assistant.kb.articles import Article
from bnpl_assistant.providers.base import Embedder
from bnpl_assistant.yamlio import YAMLError, read_yaml

log = logging.getLogger(__name__)

GATE_LABELS = ("support", "handoff", "offtopic", "injection")


@dataclass(frozen=True)
class Exemplar:
    text: str
    topic: str | None  # a topic id for support messages
    gate: str  # one of GATE_LABELS
    language: str


EXEMPLAR_FILES = ("data/exemplars.yaml", "data/exemplars_contrast.yaml", "data/exemplars_native.yaml")


def _read(path: Path | None, name: str) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8") if path else (
        resources.files("bnpl_assistant").joinpath(name).read_text(encoding="utf-8"))
    try:
        raw = read_yaml(text) or {}
    except YAMLError as exc:
        raise DataError(f"invalid exemplars file: {exc}", str(path or name)) from exc
    if not isinstance(raw, dict):
        raise DataError("exemplars file must be a mapping", str(path or name))
    return raw


def load_exemplars(articles: list[Article], topic_ids: list[str], paths: list[Path] | None = None
                   ) -> list[Exemplar]:
    """Every labelled message, deduplicated and sorted (deterministic training)."""
    sources = [(p, str(p)) for p in paths] if paths else [(None, n) for n in EXEMPLAR_FILES]
    out: dict[str, Exemplar] = {}
    for path, name in sources:
        raw = _read(path, name)
        for topic, by_lang in (raw.get("topics") or {}).items():
            if topic not in topic_ids:
                raise DataError(f"exemplars name unknown topic '{topic}'", name)
            for lang, texts in (by_lang or {}).items():
                for text in texts or []:
                    out.setdefault(text.strip(), Exemplar(text.strip(), topic, "support", lang))
        for gate, by_lang in (raw.get("special") or {}).items():
            if gate not in GATE_LABELS:
                raise DataError(f"unknown special class '{gate}'", name)
            for lang, texts in (by_lang or {}).items():
                for text in texts or []:
                    out.setdefault(text.strip(), Exemplar(text.strip(), None, gate, lang))
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
            for text in missing:
                known[self._key(text)] = self.embedder.embed_query(text)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp.npz")
            np.savez(tmp, keys=np.array(list(known)), vectors=np.stack(list(known.values())))
            tmp.replace(self.path)
        return np.stack([known[k] for k in keys]) if keys else np.zeros((0, 384), dtype=np.float32)
