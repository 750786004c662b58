"""Which article of a topic a question is about, by the questions each article says it answers.

Every article lists, in its front matter, questions customers ask that it answers; with its title they are
embedded once (the classifier already embeds them as exemplars, so the vectors come from the same disk
cache). A question's nearest of them names the article that answers it more reliably than the article's
passages do: a passage describes, a listed question asks the way customers ask.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from bnpl_assistant.kb.articles import Article

EmbedTexts = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class ArticleQuestions:
    """The title and listed questions of every article, embedded, with the article each belongs to."""

    keys: tuple[tuple[str, str], ...]  # (language, article id) per row of ``vectors``
    vectors: np.ndarray
    _grouped: dict[str, dict[str, list[int]]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, articles: list[Article], embed: EmbedTexts) -> ArticleQuestions:
        rows = [((a.language, a.id), text) for a in articles for text in (a.title, *a.questions) if text.strip()]
        vectors = embed([text for _, text in rows]) if rows else np.zeros((0, 384), dtype=np.float32)
        return cls(tuple(key for key, _ in rows), np.asarray(vectors, dtype=np.float32))

    def _rows_of(self, language: str) -> dict[str, list[int]]:
        """Rows of ``vectors`` per article of ``language``, grouped once per language."""
        grouped = self._grouped.get(language)
        if grouped is None:
            grouped = {}
            for row, (lang, art) in enumerate(self.keys):
                if lang == language:
                    grouped.setdefault(art, []).append(row)
            self._grouped[language] = grouped
        return grouped

    def similarity(self, vector: np.ndarray, language: str, article_ids: set[str]) -> dict[str, float]:
        """For each of ``article_ids`` in ``language``: the similarity of its nearest listed question."""
        by_article = self._rows_of(language)
        rows = sorted(row for art in article_ids for row in by_article.get(art, ()))  # in key order, as before
        if not rows:
            return {}
        sims = self.vectors[rows] @ vector.astype(np.float32)
        best: dict[str, float] = {}
        for row, sim in zip(rows, sims, strict=True):
            art = self.keys[row][1]
            best[art] = max(best.get(art, -1.0), float(sim))
        return best
