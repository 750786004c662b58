"""Re-runnable ingestion: only new or changed chunks are embedded; readers never see a half-built index."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bnpl_assistant.ingest.splitter import Chunk, split_article
from bnpl_assistant.kb.validate import KnowledgeBase, load_knowledge
from bnpl_assistant.providers.base import Embedder
from bnpl_assistant.settings import Settings
from bnpl_assistant.store import StoredChunk, VectorStore

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


@dataclass
class IngestReport:
    articles: dict[str, int] = field(default_factory=dict)  # per language
    chunks: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    embedded: int = 0
    collection: str | None = None
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


def build_chunks(kb: KnowledgeBase) -> list[Chunk]:
    chunks: list[Chunk] = []
    for article in sorted(kb.articles, key=lambda a: a.key):
        chunks.extend(split_article(article))
    return chunks


def ingest(settings: Settings, store: VectorStore, embedder: Embedder, rebuild: bool = False,
           progress: Progress | None = None) -> IngestReport:
    """Bring the index in line with ``settings.knowledge_dir``.

    The whole knowledge base is parsed and validated before the store is touched, so a malformed article
    stops ingestion with its file and line and the live index stays as it was.

    Raises:
        DataError: a malformed article or topics file.
        StoreUnavailableError: the Chroma server cannot be reached.
    """
    started = time.perf_counter()
    kb = load_knowledge(settings.knowledge_dir, settings.languages)
    chunks = build_chunks(kb)
    report = IngestReport(chunks=len(chunks))
    for article in kb.articles:
        report.articles[article.language] = report.articles.get(article.language, 0) + 1

    ptr = store.pointer(max_age_s=0)
    same_embedder = ptr is not None and ptr.get("embedder") == embedder.name
    existing = {c.id: c for c in store.all_chunks(with_embeddings=True)} if same_embedder and not rebuild else {}
    if ptr is not None and not same_embedder and not rebuild:
        log.info("index was built with %s; re-embedding everything with %s", ptr.get("embedder"), embedder.name)

    to_embed: list[Chunk] = []
    stored: dict[str, StoredChunk] = {}
    for chunk in chunks:
        digest = chunk.content_hash(embedder.name)
        meta = {**chunk.metadata, "hash": digest}
        old = existing.get(chunk.id)
        if old is not None and old.metadata.get("hash") == digest and old.embedding is not None:
            report.unchanged += 1
            stored[chunk.id] = StoredChunk(chunk.id, chunk.text, meta, old.embedding)
        else:
            if old is None:
                report.added += 1
            else:
                report.updated += 1
            to_embed.append(chunk)
            stored[chunk.id] = StoredChunk(chunk.id, chunk.text, meta)
    report.removed = len(set(existing) - set(stored)) if existing else (
        int(ptr.get("chunks", 0)) if ptr is not None else 0)

    if not report.changed and ptr is not None and same_embedder and not rebuild:
        report.collection = str(ptr.get("active"))
        report.seconds = time.perf_counter() - started
        return report

    batch = 32
    for start in range(0, len(to_embed), batch):
        part = to_embed[start : start + batch]
        vectors = embedder.embed_passages([c.embed_text for c in part])
        for chunk, vec in zip(part, vectors, strict=True):
            stored[chunk.id].embedding = vec
        report.embedded += len(part)
        if progress:
            progress(report.embedded, len(to_embed))
    report.collection = store.publish([stored[c.id] for c in chunks], embedder.name)
    report.seconds = time.perf_counter() - started
    return report
