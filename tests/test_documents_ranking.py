"""Ranking whole documents for a long query: each paragraph embedded on its own, a document scored by its best
match, dense and BM25 fused."""

from __future__ import annotations

import re

import numpy as np
import pytest

from bnpl_assistant.retrieve.documents import DocumentRanker, RankedDocument, query_pieces

# The fake embedder understands four concepts (plus a constant, so no text is a zero vector); words outside
# them (such as a tool's name) are invisible to it, as rare identifiers are to a small embedding model.
CONCEPTS = {
    "refund": {"refund", "refunds", "returned", "return", "reimbursed"},
    "fee": {"fee", "fees", "charged", "late", "overdue"},
    "card": {"card", "stolen", "lost", "block"},
    "account": {"account", "accounts", "reopen", "closed"},
}


def fake_embed(text: str) -> np.ndarray:
    words = re.findall(r"\w+", text.lower())
    vector = np.array([0.1] + [sum(w in vocab for w in words) for vocab in CONCEPTS.values()], dtype=np.float32)
    return vector / np.linalg.norm(vector)


CHUNKS = [  # (document, chunk text)
    ("refunds", "Refunds. A refund is reimbursed once the returned item arrives."),
    ("refunds", "Refunds. Timing: five business days."),
    ("late-fees", "Late fees. A fee is charged when a payment is overdue."),
    ("lost-card", "Lost card. Block a stolen card in the app."),
    ("reopen", "Reopening. Agents reopen a closed account with the zq4821 tool."),
    ("opening-hours", "Opening hours. We answer every day."),
]


def ranker(embed: object = fake_embed) -> DocumentRanker:
    texts = [text for _, text in CHUNKS]
    vectors = np.stack([fake_embed(text) for text in texts])
    return DocumentRanker(texts, [doc for doc, _ in CHUNKS], vectors, embed)  # type: ignore[arg-type]  # the spy


def test_query_pieces_are_paragraphs() -> None:
    assert query_pieces("  First line\nsame paragraph.\n\n \n\nSecond.\n") == ["First line\nsame paragraph.", "Second."]
    assert query_pieces(" \n\n ") == []


def test_each_paragraph_of_a_long_query_is_embedded_and_finds_its_document() -> None:
    seen: list[str] = []

    def spy(text: str) -> np.ndarray:
        seen.append(text)
        return fake_embed(text)

    query = "I returned the shoes and want my refund.\n\nAlso, my card was stolen yesterday."
    top = ranker(spy).rank(query, k=2)
    assert {d.id for d in top} == {"refunds", "lost-card"}
    assert seen == query_pieces(query)


def test_a_document_scores_its_best_match() -> None:
    r = ranker()
    pieces = ["refund returned", "my card"]
    scores = r.dense_scores(pieces)
    best = max(float(fake_embed(chunk) @ fake_embed(piece)) for chunk in (CHUNKS[0][1], CHUNKS[1][1])
               for piece in pieces)
    assert scores[r.doc_ids.index("refunds")] == pytest.approx(best)
    card = float(fake_embed(CHUNKS[3][1]) @ fake_embed("my card"))
    assert scores[r.doc_ids.index("lost-card")] == pytest.approx(card)
    lexical = r.lexical_scores("business timing")
    assert lexical[r.doc_ids.index("refunds")] > 0  # only the second chunk has these words
    assert np.count_nonzero(lexical) == 1


def test_bm25_finds_what_the_embedder_cannot_see() -> None:
    top = ranker().rank("How do I use zq4821?", k=3)
    assert top[0].id == "reopen"


def test_ranking_is_unique_documents_best_first_and_deterministic() -> None:
    r = ranker()
    ranking = r.rank("My late fee was charged twice.\n\nCan I block my card?", k=10)
    ids = [d.id for d in ranking]
    assert len(ids) == len(set(ids)) == 5  # six chunks, five documents
    assert ids[0] in {"late-fees", "lost-card"}
    assert [d.score for d in ranking] == sorted((d.score for d in ranking), reverse=True)
    assert r.rank("My late fee was charged twice.\n\nCan I block my card?", k=10) == ranking
    assert all(isinstance(d, RankedDocument) for d in ranking)


def test_ties_keep_document_order() -> None:
    texts = ["Same words here.", "Same words here.", "Same words here."]
    r = DocumentRanker(texts, ["b-doc", "a-doc", "c-doc"], np.stack([fake_embed(t) for t in texts]), fake_embed)
    assert [d.id for d in r.rank("same words")] == ["b-doc", "a-doc", "c-doc"]


def test_empty_query_and_empty_corpus() -> None:
    assert ranker().rank("   \n\n  ") == []
    assert DocumentRanker([], [], np.zeros((0, 5)), fake_embed).rank("refund") == []


def test_inputs_must_line_up() -> None:
    with pytest.raises(ValueError, match="one of each per chunk"):
        DocumentRanker(["a", "b"], ["d1"], np.zeros((2, 5)), fake_embed)
