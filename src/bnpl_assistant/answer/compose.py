"""The offline answer path: a deterministic, grounded, extractive composer.

The reply is built only from sentences of passages it cites: the chosen article's direct answer first,
then the passage that best matches the question (its key steps). Nothing is paraphrased or invented.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from bnpl_assistant.languages import FALLBACK, knowledge_language
from bnpl_assistant.retrieve.hybrid import ChunkTable, Passage

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-ZÄÖÜ0-9\"(])")
MAX_DETAIL_CHARS = 650


@dataclass
class Composition:
    text: str
    passages: list[Passage]  # the cited passages, in reply order
    language: str  # language of the passages used


def _trim(text: str, limit: int) -> str:
    """Whole lines (list items) or whole sentences up to ``limit`` characters; never cuts mid-sentence."""
    out: list[str] = []
    size = 0
    for raw_line in text.splitlines():
        pieces = [raw_line] if raw_line.lstrip().startswith(("-", "*", "1", "2", "3", "4", "5", "6", "7", "8",
                                                              "9")) else _SENTENCE.split(raw_line)
        for piece in pieces:
            if size and size + len(piece) > limit:
                return "\n".join(out).strip()
            out.append(piece) if raw_line.strip() else out.append("")
            size += len(piece)
    return "\n".join(out).strip()


def compose(topic: str, language: str, query: np.ndarray, table: ChunkTable) -> Composition | None:
    """Build a reply for ``topic`` from its best-matching article in the reply language.

    Returns None when the topic has no passage at all (the caller hands off instead).
    """
    lang = knowledge_language(language)
    candidates = table.of_topic(topic, lang) or table.of_topic(topic, FALLBACK)
    if not candidates:
        return None
    sims = table.matrix[candidates] @ query.astype(np.float32)
    best = candidates[int(np.argmax(sims))]
    best_passage = table.passage(best, float(sims.max()))
    article_chunks = sorted(
        (i for i in candidates if table.chunks[i].metadata["article_id"] == best_passage.article_id),
        key=lambda i: int(table.chunks[i].metadata["chunk_index"]),
    )
    lead = table.passage(article_chunks[0])
    parts = [lead.text.strip()]
    cited = [lead]
    if best_passage.id != lead.id:
        heading = f"**{best_passage.heading}**\n" if best_passage.heading else ""
        parts.append(heading + _trim(best_passage.text, MAX_DETAIL_CHARS))
        cited.append(best_passage)
    return Composition("\n\n".join(parts), cited, best_passage.language)
