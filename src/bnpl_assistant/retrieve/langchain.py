"""The hybrid retriever as a LangChain ``BaseRetriever``, so it drops into other LangChain apps."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever


class HallonRetriever(BaseRetriever):
    """Documents for a query: dense + BM25 passages, fused and reranked by the assistant's topic decision.

    Example:
        >>> retriever = HallonRetriever(assistant=assistant, k=4)
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
