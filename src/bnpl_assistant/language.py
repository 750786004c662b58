"""Language detection restricted to the supported languages (lingua, bundled models, offline)."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from bnpl_assistant.languages import LANGUAGES

_LINGUA_NAMES = {lang.code: lang.detector for lang in LANGUAGES}
_LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)


@dataclass(frozen=True)
class Detection:
    language: str
    confidence: float
    reliable: bool


class LanguageDetector:
    """Detects the customer's language; falls back to the previous turn's language when unsure."""

    def __init__(self, languages: tuple[str, ...], default: str = "en", min_confidence: float = 0.5,
                 min_letters: int = 12) -> None:
        unknown = [lang for lang in languages if lang not in _LINGUA_NAMES]
        if unknown:
            raise ValueError(f"unsupported languages {unknown}; supported: {sorted(_LINGUA_NAMES)}")
        self.languages = languages
        self.default = default
        self.min_confidence = min_confidence
        self.min_letters = min_letters
        self._detector: Any = None
        self._lock = threading.Lock()

    def _get(self) -> Any:
        if self._detector is None:
            with self._lock:
                if self._detector is None:
                    from lingua import Language, LanguageDetectorBuilder

                    langs = [getattr(Language, _LINGUA_NAMES[code]) for code in self.languages]
                    self._detector = LanguageDetectorBuilder.from_languages(*langs).build()
        return self._detector

    def detect(self, text: str, previous: str | None = None) -> Detection:
        """Best language of ``text``; short or ambiguous text keeps ``previous`` (or the default)."""
        fallback = previous or self.default
        letters = len(_LETTERS.findall(text or ""))
        if letters == 0:
            return Detection(fallback, 0.0, False)
        detector = self._get()
        values = detector.compute_language_confidence_values(text)
        if not values:
            return Detection(fallback, 0.0, False)
        best = values[0]
        code = next(c for c, n in _LINGUA_NAMES.items() if n == best.language.name)
        confident = best.value >= self.min_confidence and letters >= self.min_letters
        if confident or (previous is None and letters >= 4 and best.value >= 0.8):
            return Detection(code, float(best.value), True)
        return Detection(fallback, float(best.value), False)
