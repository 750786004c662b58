"""Hybrid retrieval: dense search + in-memory BM25, fused by reciprocal rank, then aggregated from passages to
topics and fused once more with the intent classifier's topic ranking.

Every live chunk, with its vector, is held in memory for BM25 and the reply composer anyway (``ChunkTable``),
so on the embedded store the dense search is an exact cosine ranking over those vectors (a few thousand rows:
well under a millisecond), where Chroma's approximate search would cost a store round trip per turn. On a
Chroma server, which other instances publish to, the dense search is Chroma's query (``dense="chroma"``
forces that on the embedded store too; the two agree, tested).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from bnpl_assistant.languages import knowledge_language
from bnpl_assistant.retrieve.lexical import LexicalIndex, top_k
from bnpl_assistant.store import StoredChunk, VectorStore

RRF_K = 60


@dataclass(frozen=True)
class Passage:
    id: str
    text: str
    article_id: str
    title: str
    topic: str
    language: str
    heading: str
    chunk_index: int
    score: float = 0.0


@dataclass
class Retrieval:
    passages: list[Passage]  # fused, best first
    topic_scores: dict[str, float] = field(default_factory=dict)  # passage-level evidence per topic
    dense_top: float = 0.0


def rrf(rankings: list[tuple[list[str], float]], k: int = RRF_K) -> dict[str, float]:
    """Weighted reciprocal-rank fusion of several rankings (each a list of ids, best first)."""
    scores: dict[str, float] = defaultdict(float)
    for ranking, weight in rankings:
        for rank, item in enumerate(ranking):
            scores[item] += weight / (k + rank + 1)
    return dict(scores)


class ChunkTable:
    """Every live chunk in memory (text, metadata, embedding), with the BM25 index over them.

    Rebuilt only when the store's pointer moves (an ingest), not per query.
    """

    def __init__(self, chunks: list[StoredChunk], version: str | None) -> None:
        self.version = version
        self.chunks = chunks
        self.by_id = {c.id: i for i, c in enumerate(chunks)}
        self.matrix = (np.stack([c.embedding for c in chunks]).astype(np.float32)  # type: ignore[misc]  # read with embeddings
                       if chunks else np.zeros((0, 384), dtype=np.float32))
        self.lexical = LexicalIndex([f"{c.metadata['title']} {c.metadata.get('heading', '')} {c.text}"
                                     for c in chunks], [str(c.metadata["language"]) for c in chunks])
        norms = np.linalg.norm(self.matrix, axis=1, keepdims=True)
        self._unit = self.matrix / np.where(norms > 0, norms, 1.0)
        self._rows: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._of_topic: dict[tuple[str, str], list[int]] = {}

    def dense(self, vector: np.ndarray, language: str, k: int) -> list[tuple[str, float]]:
        """The ``k`` chunks of ``language`` nearest to ``vector`` by cosine similarity, best first (ties by id)."""
        found = self._rows.get(language)
        if found is None:  # the language's rows and their unit vectors, one contiguous block, once per table
            rows = np.array([i for i, c in enumerate(self.chunks) if c.metadata["language"] == language],
                            dtype=np.int64)
            found = self._rows[language] = (rows, np.ascontiguousarray(self._unit[rows]))
        rows, unit = found
        if not len(rows):
            return []
        query = np.asarray(vector, dtype=np.float32).ravel()
        norm = float(np.linalg.norm(query))
        scores = unit @ (query / (norm or 1.0))
        top = top_k(scores, k)
        return [(self.chunks[rows[i]].id, float(scores[i])) for i in top]

    def passage(self, index: int, score: float = 0.0) -> Passage:
        c = self.chunks[index]
        m = c.metadata
        return Passage(c.id, c.text, str(m["article_id"]), str(m["title"]), str(m["topic"]),
                       str(m["language"]), str(m.get("heading", "")), int(m["chunk_index"]), score)

    def of_topic(self, topic: str, language: str) -> list[int]:
        """Rows of the chunks of ``topic`` in ``language`` (listed once per table: every answer asks)."""
        rows = self._of_topic.get((topic, language))
        if rows is None:
            rows = [i for i, c in enumerate(self.chunks)
                    if c.metadata["topic"] == topic and c.metadata["language"] == language]
            self._of_topic[(topic, language)] = rows
        return list(rows)


class HybridSearch:
    """Dense + lexical passage search over one live index."""

    def __init__(self, store: VectorStore, embedder_name: str, k: int = 20, dense: str = "auto") -> None:
        """Args:
            dense: ``memory`` (exact, over the in-memory vectors), ``chroma`` (the store's query) or ``auto``
                (memory on the embedded store, Chroma on a server).
        """
        if dense not in ("auto", "memory", "chroma"):
            raise ValueError(f"dense search must be auto, memory or chroma, not {dense!r}")
        self.store = store
        self.embedder_name = embedder_name
        self.k = k
        self.dense_in_memory = dense == "memory" or (dense == "auto" and store.embedded)
        self._table: ChunkTable | None = None

    def table(self) -> ChunkTable:
        ptr = self.store.pointer()
        version = str(ptr.get("active")) if ptr else None
        if self._table is None or self._table.version != version:
            self.store.check(self.embedder_name)  # raises a clear error on a missing/mismatched index
            self._table = ChunkTable(self.store.all_chunks(with_embeddings=True), version)
        return self._table

    def dense(self, table: ChunkTable, vector: np.ndarray, language: str) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) of the nearest chunks in ``language``, best first."""
        if self.dense_in_memory:
            return table.dense(vector, language, self.k)
        hits = self.store.query(vector, self.k, expected_embedder=self.embedder_name, where={"language": language})
        return [(h.id, h.score) for h in hits]

    def search(self, text: str, vector: np.ndarray, language: str) -> Retrieval:
        table = self.table()
        lex_lang = knowledge_language(language)
        # Both searches read the articles of the language the reply is built from: with several languages in
        # the index, the twins of one article would otherwise fill the dense hits in every language.
        dense = self.dense(table, vector, lex_lang)
        dense_ids = [cid for cid, _ in dense]
        lexical = table.lexical.search(text, lex_lang, k=self.k)
        lex_ids = [table.chunks[h.index].id for h in lexical]
        fused = rrf([(dense_ids, 1.0), (lex_ids, 0.6)])
        dense_score = dict(dense)
        order = sorted(fused, key=lambda cid: (-fused[cid], cid))
        passages = [table.passage(table.by_id[cid], fused[cid]) for cid in order if cid in table.by_id]
        topic_scores: dict[str, float] = defaultdict(float)
        # A topic's evidence is its best passage, plus a little for further supporting passages.
        seen: dict[str, int] = defaultdict(int)
        for p in passages:
            topic_scores[p.topic] += fused[p.id] * (1.0 if seen[p.topic] == 0 else 0.3)
            seen[p.topic] += 1
        return Retrieval(passages, dict(topic_scores), max(dense_score.values(), default=0.0))
