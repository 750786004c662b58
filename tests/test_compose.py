"""The offline composer and the passage ranking: articles out of reach left out, words scored by postings,
the top k found without sorting everything; none of it changes a reply."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bnpl_assistant.answer import compose as composer
from bnpl_assistant.languages import knowledge_language

if TYPE_CHECKING:
    from bnpl_assistant.retrieve.articles import ArticleQuestions
    from bnpl_assistant.retrieve.hybrid import ChunkTable
    from bnpl_assistant.wiring import Core

DEV = Path(__file__).resolve().parents[1] / "evals" / "dev.jsonl"


def test_leaving_out_articles_out_of_reach_changes_no_reply(core: Core, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every dev question composed on every topic of its language (most of them the wrong topic, where the
    articles lie far apart): the same reply and sources as when every article is scored, and articles were
    indeed left out."""
    rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines()][::4]
    texts = [r.get("message") or r["turns"][-1] for r in rows]
    vectors = core.understander.embedder.embed_queries(texts)
    table = core.understander.search.table()
    topics = sorted({str(c.metadata["topic"]) for c in table.chunks})
    cases = [(composer.Question(text, knowledge_language(row.get("language") or "en"), vector), topic)
             for text, row, vector in zip(texts, rows, vectors, strict=True) for topic in topics]
    left_out = 0
    reach = composer._within_reach

    def counting(candidates: list[int], question: composer.Question, table: ChunkTable,
                 questions: ArticleQuestions | None) -> tuple[list[tuple[int, float]], dict[str, float]]:
        nonlocal left_out
        kept, near = reach(candidates, question, table, questions)
        left_out += len(candidates) - len(kept)
        return kept, near

    monkeypatch.setattr(composer, "_within_reach", counting)
    pruned = [composer.compose(topic, q, table, core.articles) for q, topic in cases]
    assert left_out > 0
    monkeypatch.setattr(composer, "REACH", float("inf"))
    for (q, topic), reply in zip(cases, pruned, strict=True):
        full = composer.compose(topic, q, table, core.articles)
        assert (reply is None) == (full is None)
        if reply is not None and full is not None:
            ids = [p.id for p in reply.passages], [p.id for p in full.passages]
            assert (reply.text, ids[0]) == (full.text, ids[1]), (q.text, topic)


def test_the_lexicon_scores_every_unit_at_once_as_it_would_one_by_one(core: Core) -> None:
    """``Lexicon.overlaps`` (postings) gives every unit's and passage's overlap bit for bit as ``overlap``."""
    from bnpl_assistant.answer.sentences import Lexicon

    table = core.understander.search.table()
    for language, question in (("en", "How many days do I have to pay my invoice in the app?"),
                               ("de", "Wie viele Tage habe ich, um meine Rechnung zu bezahlen?"),
                               ("sv", "Kan jag skjuta upp min betalning?"), ("en", "zzz qqq")):
        lex = Lexicon(table, language)
        weights = lex.weights(question)
        units, passages = lex.overlaps(weights)
        assert len(lex.row) == len(passages) and units.any() == bool(weights)
        for index, chunk_units in lex.units.items():
            start, end = lex.span[index]
            assert units[start:end].tolist() == [lex.overlap(weights, u.tokens) for u in chunk_units]
            meta = table.chunks[index].metadata
            heading = lex.tokens(f"{meta['title']} {meta['heading']}")
            whole = frozenset().union(*(u.tokens for u in chunk_units), heading)
            assert passages[lex.row[index]] == lex.overlap(weights, whole)


@pytest.mark.parametrize("seed", range(20))
def test_top_k_is_the_head_of_a_stable_descending_sort(seed: int) -> None:
    """``top_k`` (a partition, then a sort of the few at or above the k-th) returns exactly what the dense and
    lexical searches returned before it: the first k of a stable descending sort, ties by index."""
    import numpy as np

    from bnpl_assistant.retrieve.lexical import top_k

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    scores = rng.integers(0, 6, n).astype(np.float32) if seed % 2 else rng.random(n).astype(np.float32)  # ties
    for k in (0, 1, 5, 20, n, n + 3):
        assert top_k(scores, k).tolist() == np.argsort(-scores, kind="stable")[:k].tolist()
