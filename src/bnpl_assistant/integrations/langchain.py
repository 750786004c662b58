"""The assistant's LangChain faces, so its parts drop into other LangChain apps: the hybrid retriever as a
``BaseRetriever`` and any embedder as ``Embeddings`` (for LangChain vector stores)."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever

from bnpl_assistant.providers.base import Embedder


class AssistantRetriever(BaseRetriever):
    """Documents for a query: dense + BM25 passages, fused and reranked by the assistant's topic decision.

    Example:
        >>> retriever = AssistantRetriever(assistant=assistant, k=4)
        >>> docs = retriever.invoke("Wie lange dauert eine Rückerstattung?")
    """

    assistant: Any
    k: int = 4

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun
                                ) -> list[Document]:
        return [
            Document(page_content=p.text, id=p.id, metadata={
                "article_id": p.article_id, "title": p.title, "topic": p.topic, "language": p.language,
                "heading": p.heading, "score": p.score})
            for p in self.assistant.retrieve(query, self.k)
        ]


class LangChainEmbeddings(Embeddings):
    """Any :class:`~bnpl_assistant.providers.base.Embedder` as a LangChain ``Embeddings``."""

    def __init__(self, embedder: Embedder) -> None:
        """Args:
            embedder: the embedder whose passage and query vectors LangChain gets.
        """
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Passage vectors of ``texts`` as lists of floats."""
        return self.embedder.embed_passages(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        """The query vector of ``text`` as a list of floats."""
        return self.embedder.embed_query(text).tolist()


HallonRetriever = AssistantRetriever  # the name before packs, kept for existing callers
