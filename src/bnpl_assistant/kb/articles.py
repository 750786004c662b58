"""Knowledge articles: ``knowledge/<language>/<article-id>.md`` with YAML front matter."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bnpl_assistant.errors import DataError
from bnpl_assistant.yamlio import YAMLError, read_yaml

REQUIRED_FIELDS = ("id", "topic", "title", "language", "updated")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,80}$")


@dataclass(frozen=True)
class Article:
    """One article. Twins in other languages share the ``id``."""

    id: str
    topic: str
    title: str
    language: str
    updated: str
    body: str
    path: Path
    questions: tuple[str, ...] = field(default_factory=tuple)
    draft: bool = False  # ``draft: true`` in the front matter: a skeleton for a person, never loaded or indexed

    @property
    def key(self) -> str:
        """Unique across languages: ``<language>/<id>``."""
        return f"{self.language}/{self.id}"

    @property
    def lead(self) -> str:
        """The direct answer: the first paragraph of the body."""
        for block in self.body.strip().split("\n\n"):
            if block.strip() and not block.lstrip().startswith("#"):
                return block.strip()
        return ""


def parse_article(path: Path, text: str | None = None) -> Article:
    """Parse one article file.

    Raises:
        DataError: with the file and line of the problem.
    """
    lines = _read_lines(path, text)
    end = _front_matter_end(path, lines)
    meta = front_matter(path, lines, end)

    def line_of(key: str) -> int:
        for i in range(1, end):
            if lines[i].startswith(f"{key}:"):
                return i + 1
        return 2

    for key in REQUIRED_FIELDS:
        if meta.get(key) in (None, ""):
            raise DataError(f"front matter is missing '{key}'", str(path), line_of(key) if key in meta else 2)
    if not _ID_RE.match(str(meta["id"])):
        raise DataError(f"id '{meta['id']}' must be a lowercase slug", str(path), line_of("id"))
    updated = meta["updated"]
    if isinstance(updated, dt.date):
        updated = updated.isoformat()
    questions = meta.get("questions") or []
    if not isinstance(questions, list) or not all(isinstance(q, str) for q in questions):
        raise DataError("'questions' must be a list of strings", str(path), line_of("questions"))
    body = "\n".join(lines[end + 1 :]).strip()
    if not body:
        raise DataError("article has no body", str(path), end + 2)
    return Article(
        id=str(meta["id"]),
        topic=str(meta["topic"]),
        title=str(meta["title"]),
        language=str(meta["language"]),
        updated=str(updated),
        body=body,
        path=path,
        questions=tuple(q.strip() for q in questions if q.strip()),
        draft=meta.get("draft") is True,
    )


def _read_lines(path: Path, text: str | None) -> list[str]:
    """The article's lines (``text`` when given, otherwise the file's)."""
    try:
        text = path.read_text(encoding="utf-8") if text is None else text
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read article: {exc}", str(path)) from exc
    return text.splitlines()


def _front_matter_end(path: Path, lines: list[str]) -> int:
    """The index of the line that closes the front matter opened on the first line."""
    if not lines or lines[0].strip() != "---":
        raise DataError("article must start with '---' front matter", str(path), 1)
    try:
        return next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise DataError("front matter is not closed with '---'", str(path), 1) from None


def front_matter(path: Path, lines: list[str], end: int) -> dict[Any, Any]:
    """The front matter (between the first line and ``end``) as a mapping."""
    try:
        meta = read_yaml("\n".join(lines[1:end])) or {}
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        raise DataError(f"invalid front matter: {getattr(exc, 'problem', exc)}", str(path), line) from exc
    except (ValueError, RecursionError) as exc:  # a date that does not exist ("2026-02-30"), nesting too deep
        raise DataError(f"invalid front matter: {exc}", str(path), 2) from exc
    if not isinstance(meta, dict):
        raise DataError("front matter must be a mapping", str(path), 2)
    return meta


def article_files(knowledge_dir: Path) -> list[Path]:
    """Every article file of a pack, sorted: ``<pack>/articles/<language>/*.md``, or ``<pack>/<language>/*.md``
    for a pack without an ``articles`` folder (the demo pack's layout)."""
    folder = knowledge_dir / "articles"
    root = folder if folder.is_dir() else knowledge_dir
    return sorted(p for p in root.glob("*/*.md") if p.is_file() and p.parent.name != "tickets")


def load_articles(knowledge_dir: Path) -> list[Article]:
    """Parse every article but drafts (no cross-file checks; see ``kb.validate`` for those)."""
    return [a for a in map(parse_article, article_files(knowledge_dir)) if not a.draft]
