"""The offline answer path: a deterministic, grounded, extractive composer.

The reply is built only from sentences of passages it cites. Every passage of the topic's articles is scored
against the question (embedding similarity plus the share of the question's words it contains), and each
article by its best passage and by the nearest of the questions it lists as answered. The reply is the best
article's direct answer (its lead passage) first, a runner-up article's direct answer when it is nearly as
close (a topic's articles split its questions, and the nearest is often only just ahead), then the best
article's passage that best answers the question; everything after the first part is shortened to the
sentences that match the question best, within one length budget. Nothing is paraphrased or invented.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from bnpl_assistant.answer.sentences import Lexicon, Unit, carries_fact, lexicon, render
from bnpl_assistant.languages import FALLBACK, knowledge_language
from bnpl_assistant.retrieve.articles import ArticleQuestions
from bnpl_assistant.retrieve.hybrid import ChunkTable, Passage

MAX_REPLY_CHARS = 800  # the direct answer is kept whole; what follows is shortened to fit
MIN_PART_CHARS = 150  # a further passage is left out rather than cut below this
RUNNER_UP_MARGIN = 0.05  # a second article this close to the best also gives its direct answer
LEXICAL_WEIGHT = 0.15  # the question's words in a passage, against the embedding similarity (about 0.7-0.9)
QUESTIONS_WEIGHT = 1.0  # an article's nearest listed question, against its best passage's score
FACT_BONUS = 0.1  # a sentence with a figure or a place in the app, against its share of the question's words
PASSAGE_WORDS = 0.5  # within the lexical score: the passage as a whole (title, heading, text) vs its best unit
# An article this far below the best one without the question's words cannot catch up (they add at most
# LEXICAL_WEIGHT) nor come within the runner-up margin; a hair more for rounding.
REACH = LEXICAL_WEIGHT + RUNNER_UP_MARGIN + 1e-6


@dataclass
class Composition:
    text: str
    passages: list[Passage]  # the cited passages, in reply order
    language: str  # language of the passages used


@dataclass(frozen=True)
class Question:
    """What the composer needs of the question: its words, its language and its embedding."""

    text: str
    language: str
    vector: np.ndarray


@dataclass(frozen=True)
class Scored:
    """A candidate passage and how well it answers the question."""

    index: int
    score: float
    unit_scores: tuple[float, ...]  # per unit of the passage, the lexical overlap with the question


def _score(candidates: list[tuple[int, float]], question: Question, table: ChunkTable, lex: Lexicon) -> list[Scored]:
    """Each (passage, embedding similarity) scored: the similarity plus the question's words it contains."""
    units, passages = lex.overlaps(lex.weights(question.text))
    scored = []
    for index, sim in candidates:
        start, end = lex.span[index]
        unit_scores = tuple(units[start:end].tolist())
        words = (PASSAGE_WORDS * float(passages[lex.row[index]])
                 + (1 - PASSAGE_WORDS) * max(unit_scores, default=0.0))
        scored.append(Scored(index, sim + LEXICAL_WEIGHT * words, unit_scores))
    return scored


def _within_reach(candidates: list[int], question: Question, table: ChunkTable,
                  questions: ArticleQuestions | None) -> tuple[list[tuple[int, float]], dict[str, float]]:
    """The candidates of the articles that can still be the answer or the runner-up, with their embedding
    similarity, and each candidate article's nearest listed question.

    The question's words add at most ``LEXICAL_WEIGHT`` to a passage's score, so an article whose best score
    without them is more than ``REACH`` below the best article's can be neither the answer nor the runner-up:
    leaving out its passages changes no reply (tested), and keeps the word overlap, the costly part, to the few
    articles in reach on a pack whose topics hold a hundred articles each.
    """
    dense = table.matrix[candidates] @ question.vector.astype(np.float32)
    articles = [str(table.chunks[i].metadata["article_id"]) for i in candidates]
    near: dict[str, float] = {}
    if questions is not None:
        near = questions.similarity(question.vector, str(table.chunks[candidates[0]].metadata["language"]),
                                    set(articles))
    best: dict[str, float] = {}
    for art, sim in zip(articles, dense, strict=True):
        best[art] = max(best.get(art, -1.0), float(sim))
    floor = max(score + QUESTIONS_WEIGHT * near.get(art, 0.0) for art, score in best.items()) - REACH
    reach = {art for art, score in best.items() if score + QUESTIONS_WEIGHT * near.get(art, 0.0) >= floor}
    kept = [(i, float(sim)) for i, sim, art in zip(candidates, dense, articles, strict=True) if art in reach]
    return kept, near


def _shorten(units: list[Unit], scores: tuple[float, ...], limit: int) -> str:
    """The whole passage when it fits in ``limit`` characters; else its best-matching units (the best one
    always, then by score, earlier first on ties), in the passage's order."""
    if sum(len(u.text) + 1 for u in units) <= limit:
        return render(units)
    order = sorted(range(len(units)), key=lambda k: (-scores[k] - FACT_BONUS * carries_fact(units[k].text), k))
    kept: list[int] = []
    size = 0
    for k in order:
        if kept and size + len(units[k].text) > limit:
            continue
        kept.append(k)
        size += len(units[k].text) + 1
    kept.sort()
    # A sentence whose neighbour in the passage was left out starts a line of its own.
    return render([units[k] if not pos or kept[pos - 1] == k - 1 else replace(units[k], line_start=True)
                   for pos, k in enumerate(kept)])


def _articles(scored: list[Scored], table: ChunkTable, near: dict[str, float]) -> list[tuple[str, float]]:
    """The articles of ``scored``, best answer first: each one's best passage score plus its nearest listed
    question's similarity (``near``)."""
    best: dict[str, float] = {}
    for s in scored:
        art = str(table.chunks[s.index].metadata["article_id"])
        best[art] = max(best.get(art, -1.0), s.score)
    if near:
        best = {art: score + QUESTIONS_WEIGHT * near.get(art, 0.0) for art, score in best.items()}
    return sorted(best.items(), key=lambda item: (-item[1], item[0]))


def _part(scored: Scored, table: ChunkTable, lex: Lexicon, limit: int) -> tuple[str, Passage]:
    """One passage of the reply, with its heading, shortened to ``limit`` characters."""
    passage = table.passage(scored.index, scored.score)
    heading = f"**{passage.heading}**\n" if passage.heading and passage.chunk_index else ""
    return heading + _shorten(lex.units[scored.index], scored.unit_scores, limit), passage


def compose(topic: str, question: Question, table: ChunkTable,
            questions: ArticleQuestions | None = None) -> Composition | None:
    """Build a reply for ``topic`` from the passages of its articles in the reply language: the direct answer
    of the article that answers the question, the direct answer of a runner-up article when it is nearly as
    close, then the passage that best answers the question, each shortened to the sentences that match.

    Returns None when the topic has no passage at all (the caller hands off instead).
    """
    lang = knowledge_language(question.language)
    candidates = table.of_topic(topic, lang) or table.of_topic(topic, FALLBACK)
    if not candidates:
        return None
    lex = lexicon(table, str(table.chunks[candidates[0]].metadata["language"]))
    kept, near = _within_reach(candidates, question, table, questions)
    scored = sorted(_score(kept, question, table, lex), key=lambda s: (-s.score, s.index))
    ranked = _articles(scored, table, near)
    close = [art for art, score in ranked[1:] if score >= ranked[0][1] - RUNNER_UP_MARGIN][:1]
    leads: dict[str, Scored] = {}  # each article's first passage (its direct answer)
    for s in scored:
        meta = table.chunks[s.index].metadata
        lead = leads.get(str(meta["article_id"]))
        if lead is None or int(meta["chunk_index"]) < int(table.chunks[lead.index].metadata["chunk_index"]):
            leads[str(meta["article_id"])] = s
    chosen = [leads[ranked[0][0]]] + [leads[art] for art in close]
    pool = [s for s in scored if table.chunks[s.index].metadata["article_id"] == ranked[0][0]
            and all(s is not c for c in chosen)]
    parts: list[str] = []
    cited: list[Passage] = []
    budget = MAX_REPLY_CHARS
    for k, s in enumerate(chosen + pool[:1]):
        limit = budget if k else 10_000  # the direct answer is never shortened
        if k and limit < MIN_PART_CHARS:
            break
        text, passage = _part(s, table, lex, limit)
        parts.append(text)
        cited.append(passage)
        budget -= len(text)
    return Composition("\n\n".join(parts), cited, cited[0].language)
