"""The one table of languages: code, names, detector and stemmer names, and which knowledge base answers.

Every module that needs a per-language fact reads it here (the detector, BM25, the page's picker, the model
prompt, the composer's "knowledge-base language or English" rule). Adding a language is one row.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    """One supported language.

    Attributes:
        code: ISO 639-1 code.
        name: English name (used in model prompts).
        native: the name in the language itself (the page's picker).
        detector: lingua's ``Language`` member name.
        stemmer: PyStemmer algorithm name, or None where none is used.
        knowledge: True when the knowledge base is written in this language; otherwise replies are built
            from the English articles with a one-line note.
    """

    code: str
    name: str
    native: str
    detector: str
    stemmer: str | None
    knowledge: bool


LANGUAGES: tuple[Language, ...] = (
    Language("en", "English", "English", "ENGLISH", "english", True),
    Language("de", "German", "Deutsch", "GERMAN", "german", True),
    Language("fr", "French", "Français", "FRENCH", "french", True),
    Language("es", "Spanish", "Español", "SPANISH", "spanish", True),
    Language("sv", "Swedish", "Svenska", "SWEDISH", "swedish", True),
    Language("nl", "Dutch", "Nederlands", "DUTCH", "dutch", True),
    Language("it", "Italian", "Italiano", "ITALIAN", "italian", False),
    Language("pl", "Polish", "Polski", "POLISH", None, False),
)
FALLBACK = "en"  # the knowledge-base language of every reply in a language without its own articles

_BY_CODE = {lang.code: lang for lang in LANGUAGES}
SUPPORTED: tuple[str, ...] = tuple(lang.code for lang in LANGUAGES)
KNOWLEDGE: tuple[str, ...] = tuple(lang.code for lang in LANGUAGES if lang.knowledge)


def get(code: str) -> Language | None:
    """The language with ISO code ``code``, or None when it is not supported."""
    return _BY_CODE.get(code)


def knowledge_language(code: str) -> str:
    """The knowledge-base language a reply in ``code`` is built from: the customer's own, or English."""
    return code if code in KNOWLEDGE else FALLBACK


def english_name(code: str) -> str:
    """The English name of ``code`` (the code itself when unknown)."""
    lang = _BY_CODE.get(code)
    return lang.name if lang else code
