"""Wiring: builds the long-lived objects from settings (once per process) for the CLI and the app."""

from __future__ import annotations

from bnpl_assistant.assistant import Assistant
from bnpl_assistant.classify.exemplars import EmbeddingCache, load_exemplars
from bnpl_assistant.embeddings import make_embedder
from bnpl_assistant.ingest import IngestReport, ingest
from bnpl_assistant.ingest.pipeline import Progress
from bnpl_assistant.kb.validate import load_knowledge
from bnpl_assistant.settings import Settings
from bnpl_assistant.store import VectorStore


def ingest_all(settings: Settings, rebuild: bool = False, progress: Progress | None = None) -> IngestReport:
    """Index the articles and warm the classifier's exemplar-embedding cache."""
    embedder = make_embedder(settings)
    store = VectorStore(settings.index_dir, settings.collection, settings.chroma_url)
    report = ingest(settings, store, embedder, rebuild=rebuild, progress=progress)
    kb = load_knowledge(settings.knowledge_dir, settings.languages)
    exemplars = load_exemplars(kb.articles, kb.topics.ids)
    EmbeddingCache(settings.cache_dir, embedder).embed([e.text for e in exemplars])
    return report


def build_assistant(settings: Settings) -> Assistant:
    """The assistant with every optional service the settings enable."""
    return Assistant.from_settings(settings)
