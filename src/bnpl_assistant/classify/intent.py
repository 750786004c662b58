"""Two linear classifiers over the e5 query embedding plus light lexical features.

- topic: which of the 38 topics a support message is about (multinomial logistic regression);
- gate: support / hand-off request / off-topic / injection.

Features: the 384-d multilingual e5 query vector, concatenated with down-weighted TF-IDF character and
word n-grams of the exemplars (they catch domain words such as "invoice" or "Passwort" that the small
embedding model blurs). Balanced class weights keep rare topics from being swallowed by common ones (a
lesson of the baseline probe in DESIGN.md). Training takes 12-14 s on 2 cores (the L-BFGS fits), so ingest
trains once and stores the result with the index (``persist.py``); every start then loads it, and scoring
needs neither scikit-learn nor its import time (the n-gram analyzers are re-done in ``ngrams.py``).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from bnpl_assistant.classify.exemplars import GATE_LABELS, Exemplar
from bnpl_assistant.classify.ngrams import Analyzer

if TYPE_CHECKING:  # scikit-learn is imported where a classifier is trained, not where one is loaded
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion

LEXICAL_WEIGHT = 0.5
C_TOPIC = 32.0  # inverse regularisation of the topic model
C_GATE = 16.0  # and of the gate model
MAX_ITER = 3000
# Everything besides the data that decides what training produces (part of the persisted classifier's key).
HYPER_PARAMETERS = {"c_topic": C_TOPIC, "c_gate": C_GATE, "lexical_weight": LEXICAL_WEIGHT, "max_iter": MAX_ITER,
                    "chars": "char_wb 3-5 min_df=2 sublinear", "words": "word 1-2 sublinear",
                    "class_weight": "balanced"}


@dataclass(frozen=True)
class IntentScores:
    topic_ids: list[str]
    topic_probs: np.ndarray
    gate: dict[str, float]

    def ranked_topics(self) -> list[tuple[str, float]]:
        order = np.argsort(-self.topic_probs)
        return [(self.topic_ids[i], float(self.topic_probs[i])) for i in order]


class IntentClassifier:
    """Trained on construction. Pickled (the stored classifier, ``classify/persist.py``), its scikit-learn
    objects travel as one inner pickle that is unpickled only when :meth:`score_reference` needs them:
    loading a stored classifier and scoring with it import no scikit-learn."""

    def __init__(self, exemplars: list[Exemplar], vectors: np.ndarray, c_topic: float = C_TOPIC,
                 c_gate: float = C_GATE) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion
        from threadpoolctl import threadpool_limits

        texts = [e.text for e in exemplars]
        models: dict[str, Any] = {"lexical": FeatureUnion([
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=2, sublinear_tf=True)),
            ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True)),
        ]).fit(texts)}
        self._models: dict[str, Any] | None = models
        self._models_pickle: bytes | None = None
        features = self._features(vectors, texts)
        # support messages by topic, and a pack's out_of_scope tickets as one more class beside them
        support = [i for i, e in enumerate(exemplars) if e.topic]
        models["topic_model"] = LogisticRegression(C=c_topic, max_iter=MAX_ITER, class_weight="balanced")
        models["gate_model"] = LogisticRegression(C=c_gate, max_iter=MAX_ITER, class_weight="balanced")
        # One thread: scikit-learn's loss runs on every core by default, which on 2 cores cost 80-86 s of CPU for
        # a 45-50 s fit of the demo pack, against 43-46 s of CPU and the same wall time on one (onboarding fits
        # several models side by side in their own processes).
        with threadpool_limits(1):
            self.topic_model.fit(features[support], [exemplars[i].topic for i in support])
            self.gate_model.fit(features, [e.gate for e in exemplars])
        self.topic_ids: list[str] = [str(c) for c in self.topic_model.classes_]
        self.gate_labels: list[str] = [str(c) for c in self.gate_model.classes_]
        missing = set(GATE_LABELS) - set(self.gate_labels)
        if missing:
            raise ValueError(f"exemplars lack the gate classes {sorted(missing)}")

        self._fast = _FastScorer(self.lexical, vectors.shape[1], self.topic_model, self.gate_model)

    @property
    def lexical(self) -> FeatureUnion:
        """The fitted TF-IDF character and word n-gram features."""
        return self._model("lexical")

    @property
    def topic_model(self) -> LogisticRegression:
        """The fitted topic model."""
        return self._model("topic_model")

    @property
    def gate_model(self) -> LogisticRegression:
        """The fitted gate model."""
        return self._model("gate_model")

    def _model(self, name: str) -> Any:
        if self._models is None:
            # The inner pickle this class wrote itself (see __getstate__), inside a file it also wrote.
            self._models = pickle.loads(self._models_pickle or b"")
        return self._models[name]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if state["_models_pickle"] is None:
            state["_models_pickle"] = pickle.dumps(self._models, protocol=pickle.HIGHEST_PROTOCOL)
        state["_models"] = None
        return state

    def _features(self, vectors: np.ndarray, texts: list[str]) -> sp.csr_matrix:
        return sp.hstack([sp.csr_matrix(vectors), self.lexical.transform(texts) * LEXICAL_WEIGHT]).tocsr()

    def score(self, vector: np.ndarray, text: str, language: str | None = None) -> IntentScores:
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
        self.blocks: list[tuple[Analyzer, dict[str, int], np.ndarray, int]] = []
        offset = dim
        for _, vectorizer in lexical.transformer_list:
            vocabulary = dict(vectorizer.vocabulary_)
            self.blocks.append((Analyzer.of(vectorizer), vocabulary, np.asarray(vectorizer.idf_), offset))
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
