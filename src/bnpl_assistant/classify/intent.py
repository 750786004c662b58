"""Two linear classifiers over the e5 query embedding plus light lexical features.

- topic: which of the 38 topics a support message is about (multinomial logistic regression);
- gate: support / hand-off request / off-topic / injection.

Features: the 384-d multilingual e5 query vector, concatenated with down-weighted TF-IDF character and
word n-grams of the exemplars (they catch domain words such as "invoice" or "Passwort" that the small
embedding model blurs). Balanced class weights keep rare topics from being swallowed by common ones (a
lesson of the baseline probe in DESIGN.md). Training takes about a second on cached embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion

from bnpl_assistant.classify.exemplars import GATE_LABELS, Exemplar

LEXICAL_WEIGHT = 0.5


@dataclass(frozen=True)
class IntentScores:
    topic_ids: list[str]
    topic_probs: np.ndarray
    gate: dict[str, float]

    def ranked_topics(self) -> list[tuple[str, float]]:
        order = np.argsort(-self.topic_probs)
        return [(self.topic_ids[i], float(self.topic_probs[i])) for i in order]


class IntentClassifier:
    def __init__(self, exemplars: list[Exemplar], vectors: np.ndarray, c_topic: float = 32.0,
                 c_gate: float = 16.0) -> None:
        texts = [e.text for e in exemplars]
        self.lexical = FeatureUnion([
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=2, sublinear_tf=True)),
            ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True)),
        ]).fit(texts)
        features = self._features(vectors, texts)
        support = [i for i, e in enumerate(exemplars) if e.gate == "support" and e.topic]
        self.topic_model = LogisticRegression(C=c_topic, max_iter=3000, class_weight="balanced")
        self.topic_model.fit(features[support], [exemplars[i].topic for i in support])
        self.topic_ids: list[str] = [str(c) for c in self.topic_model.classes_]
        self.gate_model = LogisticRegression(C=c_gate, max_iter=3000, class_weight="balanced")
        self.gate_model.fit(features, [e.gate for e in exemplars])
        self.gate_labels: list[str] = [str(c) for c in self.gate_model.classes_]
        missing = set(GATE_LABELS) - set(self.gate_labels)
        if missing:
            raise ValueError(f"exemplars lack the gate classes {sorted(missing)}")

        self._fast = _FastScorer(self.lexical, vectors.shape[1], self.topic_model, self.gate_model)

    def _features(self, vectors: np.ndarray, texts: list[str]) -> sp.csr_matrix:
        return sp.hstack([sp.csr_matrix(vectors), self.lexical.transform(texts) * LEXICAL_WEIGHT]).tocsr()

    def score(self, vector: np.ndarray, text: str) -> IntentScores:
        """The same probabilities as ``predict_proba`` on :meth:`_features` (tested), computed directly
        from the fitted weights: one message costs ~0.1 ms instead of ~3 ms of scikit-learn overhead."""
        topic_probs, gate_probs = self._fast.probabilities(np.asarray(vector, dtype=np.float64).ravel(), text)
        return IntentScores(self.topic_ids, topic_probs,
                            dict(zip(self.gate_labels, map(float, gate_probs), strict=True)))

    def score_reference(self, vector: np.ndarray, text: str) -> IntentScores:
        """:meth:`score` through scikit-learn's own transform and ``predict_proba`` (the reference)."""
        x = self._features(vector.reshape(1, -1), [text])
        topic_probs = self.topic_model.predict_proba(x)[0]
        gate_probs = self.gate_model.predict_proba(x)[0]
        return IntentScores(self.topic_ids, topic_probs,
                            dict(zip(self.gate_labels, map(float, gate_probs), strict=True)))


class _FastScorer:
    """Multinomial logistic regression on [e5 vector, weighted TF-IDF] for one message at a time, from the
    fitted vocabularies, idf weights and coefficients (the per-call input validation of scikit-learn
    dominated the turn's classifier time)."""

    def __init__(self, lexical: FeatureUnion, dim: int, *models: LogisticRegression) -> None:
        self.dim = dim
        self.blocks: list[tuple[Any, dict[str, int], np.ndarray, int]] = []
        offset = dim
        for _, vectorizer in lexical.transformer_list:
            vocabulary = dict(vectorizer.vocabulary_)
            self.blocks.append((vectorizer.build_analyzer(), vocabulary, np.asarray(vectorizer.idf_), offset))
            offset += len(vocabulary)
        self.models = [(np.asarray(m.coef_, dtype=np.float64), np.asarray(m.intercept_, dtype=np.float64))
                       for m in models]

    def probabilities(self, vector: np.ndarray, text: str) -> list[np.ndarray]:
        columns: list[int] = []
        values: list[float] = []
        for analyze, vocabulary, idf, offset in self.blocks:
            counts: dict[int, int] = {}
            for token in analyze(text):
                j = vocabulary.get(token)
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
            if not counts:
                continue
            idx = np.fromiter(counts, dtype=np.int64, count=len(counts))
            tf = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))  # sublinear
            weights = tf * idf[idx]
            weights *= LEXICAL_WEIGHT / np.linalg.norm(weights)  # l2 per block, then down-weighted
            columns.extend((idx + offset).tolist())
            values.extend(weights.tolist())
        cols = np.asarray(columns, dtype=np.int64)
        vals = np.asarray(values, dtype=np.float64)
        out = []
        for coef, intercept in self.models:
            logits = coef[:, : self.dim] @ vector + intercept
            if len(cols):
                logits = logits + coef[:, cols] @ vals
            if coef.shape[0] == 1:  # binary: sigmoid of the one decision value, as predict_proba does
                p = 1.0 / (1.0 + np.exp(-logits[0]))
                out.append(np.array([1.0 - p, p]))
                continue
            logits -= logits.max()
            e = np.exp(logits)
            out.append(e / e.sum())
        return out
