"""Two linear classifiers over e5 query embeddings.

- topic: which of the 38 topics a support message is about (multinomial logistic regression);
- gate: support / hand-off request / off-topic / injection.

Balanced class weights keep rare topics from being swallowed by common ones (a lesson of the baseline
probe in DESIGN.md). Training takes well under a second on cached embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression

from bnpl_assistant.classify.exemplars import GATE_LABELS, Exemplar


@dataclass(frozen=True)
class IntentScores:
    topic_ids: list[str]
    topic_probs: np.ndarray
    gate: dict[str, float]

    def ranked_topics(self) -> list[tuple[str, float]]:
        order = np.argsort(-self.topic_probs)
        return [(self.topic_ids[i], float(self.topic_probs[i])) for i in order]


class IntentClassifier:
    def __init__(self, exemplars: list[Exemplar], vectors: np.ndarray, c_topic: float = 8.0,
                 c_gate: float = 8.0) -> None:
        support = [i for i, e in enumerate(exemplars) if e.gate == "support" and e.topic]
        self.topic_model = LogisticRegression(C=c_topic, max_iter=2000, class_weight="balanced")
        self.topic_model.fit(vectors[support], [exemplars[i].topic for i in support])
        self.topic_ids: list[str] = [str(c) for c in self.topic_model.classes_]
        self.gate_model = LogisticRegression(C=c_gate, max_iter=2000, class_weight="balanced")
        self.gate_model.fit(vectors, [e.gate for e in exemplars])
        self.gate_labels: list[str] = [str(c) for c in self.gate_model.classes_]
        missing = set(GATE_LABELS) - set(self.gate_labels)
        if missing:
            raise ValueError(f"exemplars lack the gate classes {sorted(missing)}")

    def score(self, vector: np.ndarray) -> IntentScores:
        x = vector.reshape(1, -1)
        topic_probs = self.topic_model.predict_proba(x)[0]
        gate_probs = self.gate_model.predict_proba(x)[0]
        return IntentScores(self.topic_ids, topic_probs, dict(zip(self.gate_labels, map(float, gate_probs),
                                                                  strict=True)))
