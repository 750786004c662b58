"""The n-gram analyzers of the classifier's TF-IDF features, without importing scikit-learn.

A scored message must produce exactly the token sequence scikit-learn's ``TfidfVectorizer.build_analyzer()``
produces at training time (same tokens, same order, so the same floating-point sums): the start-up path
then needs no scikit-learn import (about a second of a cold ``ask``). Only the settings the classifier
uses are supported: ``char_wb`` and ``word`` analyzers, lower-casing, no accent stripping, no stop words,
no custom preprocessor or tokenizer. ``tests/test_classifier_cache.py`` compares both on many messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_RUNS_OF_SPACE = re.compile(r"\s\s+")


@dataclass(frozen=True)
class Analyzer:
    """One vectorizer's tokenisation: ``kind`` is "char_wb" or "word", n-grams from ``low`` to ``high``."""

    kind: str
    low: int
    high: int
    lowercase: bool = True
    token_pattern: str = r"(?u)\b\w\w+\b"

    @classmethod
    def of(cls, vectorizer: Any) -> Analyzer:
        """The analyzer of a fitted scikit-learn ``TfidfVectorizer``.

        Raises:
            ValueError: the vectorizer uses a setting this module does not reproduce.
        """
        unsupported = [name for name in ("preprocessor", "tokenizer", "stop_words", "strip_accents")
                       if getattr(vectorizer, name, None)]
        if vectorizer.analyzer not in ("char_wb", "word") or vectorizer.input != "content" or unsupported:
            raise ValueError(f"unsupported vectorizer settings: analyzer={vectorizer.analyzer!r}, "
                             f"input={vectorizer.input!r}, {unsupported}")
        low, high = vectorizer.ngram_range
        return cls(vectorizer.analyzer, int(low), int(high), bool(vectorizer.lowercase), vectorizer.token_pattern)

    def __call__(self, text: str) -> list[str]:
        """The tokens of ``text``, in scikit-learn's order."""
        if self.kind == "char_wb":
            return self._char_wb(text)
        return self._words(re.findall(self.token_pattern, self._prepare(text)))

    def _prepare(self, text: str) -> str:
        return text.lower() if self.lowercase else text

    def _char_wb(self, text: str) -> list[str]:
        grams: list[str] = []
        for word in _RUNS_OF_SPACE.sub(" ", self._prepare(text)).split():
            padded = f" {word} "
            size = len(padded)
            for n in range(self.low, self.high + 1):
                grams.extend(padded[i: i + n] for i in range(max(1, size - n + 1)))
                if size <= n:  # a word shorter than n yields one (short) gram, once
                    break
        return grams

    def _words(self, tokens: list[str]) -> list[str]:
        if self.high == 1:
            return tokens
        grams = list(tokens) if self.low == 1 else []
        for n in range(max(self.low, 2), min(self.high + 1, len(tokens) + 1)):
            grams.extend(" ".join(tokens[i: i + n]) for i in range(len(tokens) - n + 1))
        return grams
