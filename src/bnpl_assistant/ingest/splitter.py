"""Split an article along its Markdown headings into retrievable chunks."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

from bnpl_assistant.kb.articles import Article

_MAX_CHARS = 1200


@dataclass(frozen=True)
class Chunk:
    id: str
    text: str  # what is shown and cited
    embed_text: str  # what is embedded: title and heading give the passage its context
    metadata: dict[str, str | int]

    def content_hash(self, embedder: str) -> str:
        return hashlib.sha256(f"{embedder}\n{self.embed_text}".encode()).hexdigest()[:32]


_headers = MarkdownHeaderTextSplitter([("##", "h2"), ("###", "h3")], strip_headers=True)
_long = RecursiveCharacterTextSplitter(chunk_size=_MAX_CHARS, chunk_overlap=100)


def split_article(article: Article) -> list[Chunk]:
    """One chunk per heading section (the lead paragraph is the first), long sections split further."""
    chunks: list[Chunk] = []
    for doc in _headers.split_text(article.body):
        heading = doc.metadata.get("h3") or doc.metadata.get("h2") or ""
        for raw in _long.split_text(doc.page_content) if len(doc.page_content) > _MAX_CHARS \
                else [doc.page_content]:
            piece = raw.strip()
            if not piece:
                continue
            index = len(chunks)
            context = f"{article.title}. {heading}".strip(". ") if heading else article.title
            chunks.append(
                Chunk(
                    id=f"{article.language}/{article.id}#{index}",
                    text=piece,
                    embed_text=f"{context}\n{piece}",
                    metadata={
                        "article_id": article.id,
                        "article_key": article.key,
                        "language": article.language,
                        "topic": article.topic,
                        "title": article.title,
                        "heading": heading,
                        "chunk_index": index,
                        "updated": article.updated,
                    },
                )
            )
    return chunks
