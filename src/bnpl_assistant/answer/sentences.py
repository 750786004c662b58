"""Passages as sentence units (a sentence, or a whole list item or table row) and a cheap lexical score of
each unit against the question: the share of the question's (IDF-weighted, stemmed) words it contains.

The composer uses it to keep the sentences that answer the question when it shortens a passage, and to tell
which passage answers it at all. Lexical, not embedded: scoring every sentence of a topic's articles costs
well under a millisecond, where embedding them would cost an embedder call per reply.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from bnpl_assistant.retrieve.hybrid import ChunkTable
from bnpl_assistant.retrieve.lexical import tokenize

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-ZÄÖÜÅÉ0-9\"(¿¡])")
_WHOLE_LINE = re.compile(r"^\s*(?:[-*+|]|\d+[.)])")  # list items and table rows are never split


@dataclass(frozen=True)
class Unit:
    """One sentence (or list item, or table row) of a passage, verbatim."""

    text: str
    line_start: bool  # it starts a line of the passage (else it continues the previous unit's line)
    tokens: frozenset[str]


def split_units(text: str, language: str) -> list[Unit]:
    """The passage's units in order; blank lines dropped."""
    out: list[Unit] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        pieces = [line.rstrip()] if _WHOLE_LINE.match(line) else _SENTENCE.split(line.strip())
        out.extend(Unit(piece, k == 0, frozenset(tokenize(piece, language))) for k, piece in enumerate(pieces))
    return out


_FACT = re.compile(r"\d|\S ?> ?\S")  # a figure (amount, days, percent) or an app path ("Payments > Pay now")


def carries_fact(text: str) -> bool:
    """Whether a sentence states a deciding fact: a figure or a place in the app."""
    return bool(_FACT.search(text))


def render(units: list[Unit]) -> str:
    """Units back to text: a unit that continued a line in the passage continues it here too."""
    text = ""
    for unit in units:
        text += ("\n" if unit.line_start else " ") + unit.text if text else unit.text
    return text


class Lexicon:
    """The units of every passage of one knowledge-base language, and their words' inverse document
    frequencies (a unit is a document: words that are everywhere in the articles weigh little).

    For scoring, each word's postings: the units, and the passages (with their title and heading), that
    contain it. A question's overlap with every unit and passage of the language is then a few array additions
    (one per word of the question), where testing each unit's word set cost milliseconds on a pack whose topics
    hold hundreds of passages.
    """

    def __init__(self, table: ChunkTable, language: str) -> None:
        self.language = language
        self.units = {i: split_units(c.text, language) for i, c in enumerate(table.chunks)
                      if c.metadata["language"] == language}
        df: Counter[str] = Counter()
        for units in self.units.values():
            for unit in units:
                df.update(unit.tokens)
        n = sum(len(units) for units in self.units.values()) or 1
        self._idf = {t: math.log(1 + n / f) for t, f in df.items()}
        self.row: dict[int, int] = {}  # chunk index -> its row among the language's passages
        self.span: dict[int, tuple[int, int]] = {}  # chunk index -> its units' rows [start, end)
        unit_postings: dict[str, list[int]] = {}
        whole_postings: dict[str, list[int]] = {}
        start = 0
        for row, (i, units) in enumerate(self.units.items()):
            self.row[i], self.span[i] = row, (start, start + len(units))
            for k, unit in enumerate(units):
                for token in unit.tokens:
                    unit_postings.setdefault(token, []).append(start + k)
            meta = table.chunks[i].metadata
            for token in frozenset().union(*(u.tokens for u in units),
                                           self.tokens(f"{meta['title']} {meta['heading']}")):
                whole_postings.setdefault(token, []).append(row)
            start += len(units)
        self._sizes = (start, len(self.units))
        self._unit_postings = {t: np.asarray(rows, dtype=np.int64) for t, rows in unit_postings.items()}
        self._whole_postings = {t: np.asarray(rows, dtype=np.int64) for t, rows in whole_postings.items()}

    def tokens(self, text: str) -> frozenset[str]:
        return frozenset(tokenize(text, self.language))

    def weights(self, question: str) -> dict[str, float]:
        """The question's words and their weights (words the articles never use weigh nothing)."""
        return {t: self._idf[t] for t in set(tokenize(question, self.language)) if t in self._idf}

    @staticmethod
    def overlap(weights: dict[str, float], tokens: frozenset[str]) -> float:
        """Share of the question's weight that ``tokens`` cover (0 to 1)."""
        total = sum(weights.values())
        return sum(w for t, w in weights.items() if t in tokens) / total if total else 0.0

    def overlaps(self, weights: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`overlap` of every unit (rows as in ``span``) and of every passage with its title and heading
        (rows as in ``row``) of the language: the same values, added in the same order."""
        units, passages = np.zeros(self._sizes[0]), np.zeros(self._sizes[1])
        total = sum(weights.values())
        if not total:
            return units, passages
        for token, weight in weights.items():
            units[self._unit_postings.get(token, _NONE)] += weight
            passages[self._whole_postings.get(token, _NONE)] += weight
        return units / total, passages / total


_NONE = np.zeros(0, dtype=np.int64)


@lru_cache(maxsize=8)
def lexicon(table: ChunkTable, language: str) -> Lexicon:
    """The lexicon of ``language`` over ``table`` (built once per index version and language)."""
    return Lexicon(table, language)
