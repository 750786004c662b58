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

    def _features(self, vectors: np.ndarray, texts: list[str]) -> sp.csr_matrix:
        return sp.hstack([sp.csr_matrix(vectors), self.lexical.transform(texts) * LEXICAL_WEIGHT]).tocsr()

    def score(self, vector: np.ndarray, text: str) -> IntentScores:
        x = self._features(vector.reshape(1, -1), [text])
        topic_probs = self.topic_model.predict_proba(x)[0]
        gate_probs = self.gate_model.predict_proba(x)[0]
        return IntentScores(self.topic_ids, topic_probs,
                            dict(zip(self.gate_labels, map(float, gate_probs), strict=True)))
