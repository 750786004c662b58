"""One intent classifier per knowledge-base language, trained and stored like the single one (``persist.py``).

Why: when the Swedish, French, Spanish and Dutch articles went live, one classifier over every language's
examples lost accuracy on English messages (topic accuracy on the public external suite fell from 0.829 to
0.789, while the English dev tickets did not move): the multilingual embedding puts a Swedish question about a
failed instalment debit next to an English "my payment was declined", so each language's wording leaks into
the others' topic boundaries. Each language now gets its own classifier, trained on its own examples, the
fallback language's (English: the largest set, and the articles that languages without their own answer
from) and the language-neutral ones; a message is scored by the classifier of the language its reply is built
from. (Giving every group the gate's examples of all languages as well was tried: better on the topic-switch
set, but refusal recall on English messages fell from 0.872 to 0.828, so the groups stay per language.)

Every group's classifier is trained when its inputs change (at ingest) and stored under its own key; a
process loads only the groups its messages need, on first use.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from bnpl_assistant.classify.exemplars import NEUTRAL, Exemplar
from bnpl_assistant.classify.intent import IntentClassifier, IntentScores
from bnpl_assistant.classify.persist import (
    classifier_key,
    classifier_path,
    load_classifier,
    remove_stale_classifiers,
    save_classifier,
)
from bnpl_assistant.languages import FALLBACK, knowledge_language


def language_groups(exemplars: list[Exemplar], languages: tuple[str, ...]) -> dict[str, list[int]]:
    """For each knowledge language among ``languages`` (always the fallback): the indexes of its training
    examples (its own, the fallback language's and the language-neutral ones)."""
    codes = sorted({knowledge_language(lang) for lang in languages} | {FALLBACK})
    return {code: [i for i, e in enumerate(exemplars) if e.language in {code, FALLBACK, NEUTRAL}]
            for code in codes}


class LanguageClassifiers:
    """The per-language classifiers for one set of inputs; :meth:`score` picks the message's."""

    def __init__(self, cache_dir: Path, exemplars: list[Exemplar], vectors: np.ndarray, embedder_name: str,
                 languages: tuple[str, ...]) -> None:
        """Train (and store) every group whose classifier is not stored yet; the others load on first use."""
        self._loaded: dict[str, IntentClassifier] = {}
        self._lock = threading.Lock()
        self._groups = language_groups(exemplars, languages)
        self._training = (exemplars, vectors)
        self._paths: dict[str, tuple[Path, str]] = {}
        for code, rows in self._groups.items():
            key = classifier_key([exemplars[i] for i in rows], vectors[rows], embedder_name)
            self._paths[code] = (classifier_path(cache_dir, key), key)
        for code, (path, _) in self._paths.items():
            if not path.exists():
                self._loaded[code] = self._train(code)
        remove_stale_classifiers(cache_dir, {path for path, _ in self._paths.values()})

    def _train(self, code: str) -> IntentClassifier:
        """Train the group's classifier and store it beside the other groups'."""
        exemplars, vectors = self._training
        rows = self._groups[code]
        classifier = IntentClassifier([exemplars[i] for i in rows], vectors[rows])
        path, key = self._paths[code]
        save_classifier(classifier, path, key, keep={p for p, _ in self._paths.values()})
        return classifier

    @property
    def training_vectors(self) -> np.ndarray:
        """The query vectors of every training message (all groups): what support messages of this pack look
        like (the content-gap analysis removes their common directions)."""
        return self._training[1]

    @property
    def languages(self) -> list[str]:
        return sorted(self._paths)

    def for_language(self, language: str | None) -> IntentClassifier:
        """The classifier for messages in ``language`` (its knowledge language's; unknown: the fallback's)."""
        code = knowledge_language(language or FALLBACK)
        code = code if code in self._paths else FALLBACK
        with self._lock:
            if code not in self._loaded:
                path, key = self._paths[code]
                # removed or unreadable since it was stored: train it again
                self._loaded[code] = load_classifier(path, key) or self._train(code)
            return self._loaded[code]

    def score(self, vector: np.ndarray, text: str, language: str | None = None) -> IntentScores:
        return self.for_language(language).score(vector, text)
