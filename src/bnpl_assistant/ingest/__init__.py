"""Load, split, embed and index the knowledge base."""

from bnpl_assistant.ingest.pipeline import IngestReport, ingest

__all__ = ["IngestReport", "ingest"]
