"""BM25 over the chunks, with per-language tokenisation, stemming and stop words. Kept in memory."""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass

import bm25s
import numpy as np
import Stemmer

from bnpl_assistant.languages import LANGUAGES

# bm25s sets its own logger to DEBUG on import; keep its per-build messages out of the user's terminal.
logging.getLogger("bm25s").setLevel(logging.WARNING)

_STEMMERS = {lang.code: lang.stemmer for lang in LANGUAGES}
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
# A short, general stop list per language (function words only).
_STOP = {
    "en": set("the a an and or to of in on for is are was be it i my me you your we our this that with at "
              "can do does did how what when why where have has had not no yes so if from by as am will "
              "would could should just please hi hello there".split()),
    "de": set("der die das ein eine einen einem und oder zu von im in auf für ist sind war sein es ich mein "
              "meine mir mich sie ihr wir unser dies das mit bei kann können wie was wann warum wo habe hat "
              "nicht kein ja so wenn aus als bin wird würde bitte hallo den dem des auch noch schon".split()),
}


def tokenize(text: str, language: str) -> list[str]:
    """Lowercased word tokens, stop words removed, stemmed for the language."""
    stem_name = _STEMMERS.get(language)
    stop = _STOP.get(language, set())
    tokens = [t for t in _TOKEN.findall(text.lower()) if t not in stop]
    if stem_name:
        tokens = _stemmer(stem_name).stemWords(tokens)
    return tokens


_stemmer_cache: dict[str, Stemmer.Stemmer] = {}


def _stemmer(name: str) -> Stemmer.Stemmer:
    if name not in _stemmer_cache:
        _stemmer_cache[name] = Stemmer.Stemmer(name)
    return _stemmer_cache[name]


@dataclass
class LexicalHit:
    index: int
    score: float


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indexes of the ``k`` highest ``scores``, highest first, ties by index: the first ``k`` of a stable
    descending sort, without sorting the rest (a partition, then a sort of the few at or above the k-th)."""
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    if len(scores) <= k:
        return np.argsort(-scores, kind="stable")
    kth = scores[np.argpartition(-scores, k - 1)[k - 1]]
    at_least = np.flatnonzero(scores >= kth)  # every tie of the k-th included, in index order
    return at_least[np.argsort(-scores[at_least], kind="stable")][:k]


class LexicalIndex:
    """One BM25 index per knowledge-base language, built when a query in that language first comes (a process
    that answers one language never builds the other five); a query is scored against its own language's."""

    def __init__(self, texts: list[str], languages: list[str]) -> None:
        self._texts = texts
        self._rows: dict[str, list[int]] = {}
        for i, lang in enumerate(languages):
            self._rows.setdefault(lang, []).append(i)
        self._by_lang: dict[str, tuple[bm25s.BM25, list[int]]] = {}
        self._lock = threading.Lock()

    def _index(self, lang: str) -> tuple[bm25s.BM25, list[int]]:
        with self._lock:
            if lang not in self._by_lang:
                idx = self._rows[lang]
                corpus = [tokenize(self._texts[i], lang) or ["_"] for i in idx]
                model = bm25s.BM25()
                model.index(corpus, show_progress=False)
                self._by_lang[lang] = (model, idx)
            return self._by_lang[lang]

    def search(self, query: str, language: str, k: int = 20) -> list[LexicalHit]:
        lang = language if language in self._rows else "en"
        if lang not in self._rows:
            return []
        model, idx = self._index(lang)
        tokens = tokenize(query, lang)
        if not tokens:
            return []
        scores = model.get_scores(tokens)
        order = top_k(scores, k)
        return [LexicalHit(idx[int(i)], float(scores[i])) for i in order if scores[i] > 0]
