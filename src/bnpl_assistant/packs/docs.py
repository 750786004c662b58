"""Import an operator's help-center export (one file, or a folder of them) into article records.

Formats, chosen by extension:

- Markdown (``.md``, ``.markdown``), with or without YAML front matter (``id``, ``title``, ``language``,
  ``topic``). The title is the front matter's, else the first ``#`` heading (taken out of the body), else the
  file name without its extension.
- HTML (``.html``, ``.htm``): one article per page; see :mod:`bnpl_assistant.packs.html_text`.
- JSON (``.json``: one object or a list of them) and JSON Lines (``.jsonl``): objects with ``title`` and
  ``text`` (or ``content`` / ``body``; an HTML body is converted like a page), optional ``id``, ``language``
  (or ``locale``) and ``category``.

Ids are slugs (``[a-z0-9-]``): the document's own id when it gives one, else the file's path below the source
folder (``billing/Late fees.md`` -> ``billing-late-fees``; JSON items without an id add their item or line
number). The topic hint is the document's own topic or category when it gives one, else the first-level
sub-folder it sits in. In a folder, hidden files and folders (``.git``, ``.DS_Store``) are ignored and files of
other types are skipped and listed in :attr:`HelpCenter.skipped`; a single file of another type is an error.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bnpl_assistant.errors import DataError
from bnpl_assistant.kb.articles import front_matter
from bnpl_assistant.packs.html_text import looks_like_html, read_html
from bnpl_assistant.packs.tickets import json_lines

log = logging.getLogger(__name__)

MARKDOWN = (".md", ".markdown")
HTML = (".html", ".htm")
SUPPORTED = (*MARKDOWN, *HTML, ".json", ".jsonl")
_TEXT_KEYS = ("text", "content", "body")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_LANGUAGE = re.compile(r"^[a-z]{2}$")
_FENCE = ("```", "~~~")


@dataclass(frozen=True)
class ImportedDoc:
    """One help-center article as imported, before the pack assigns it a language and topic."""

    id: str  # unique slug, [a-z0-9-]
    title: str
    text: str  # Markdown-ish: paragraphs, ``## `` headings, ``- `` list items
    language: str | None  # ISO 639-1 when the source says; None: the caller detects it
    topic_hint: str | None  # slug of the document's topic/category, else of its first-level folder
    source: str  # the file, with ``:line`` for JSON Lines


@dataclass(frozen=True)
class HelpCenter:
    """What an import found: the documents in order, and the files it skipped (unsupported types)."""

    docs: tuple[ImportedDoc, ...]
    skipped: tuple[Path, ...]


def read_help_center(src: Path) -> list[ImportedDoc]:
    """Every document in ``src`` (a file, or a folder walked recursively in sorted order).

    Use :func:`import_help_center` to also learn which files were skipped.

    Raises:
        DataError: naming the file (and line, for JSON Lines) of a binary or empty document, malformed JSON,
            an object without title or text, a duplicate id, or a single file of an unsupported type.
    """
    return list(import_help_center(src).docs)


def import_help_center(src: Path) -> HelpCenter:
    """Like :func:`read_help_center`, also reporting the files of unsupported types it skipped in a folder."""
    if src.is_file():
        if src.suffix.lower() not in SUPPORTED:
            raise DataError(f"unsupported file type '{src.suffix or src.name}': give a Markdown, HTML, JSON or "
                            "JSON Lines file, or a folder of them", str(src))
        files, skipped = [src], list[Path]()
    elif src.is_dir():
        files, skipped = _walk(src)
    else:
        raise DataError("no such file or folder", str(src))
    docs: list[ImportedDoc] = []
    seen: dict[str, str] = {}
    for path in files:
        for doc, line in _read_file(path, src):
            if doc.id in seen:
                raise DataError(f"duplicate id '{doc.id}' (also {seen[doc.id]}): give each document its own id",
                                str(path), line)
            seen[doc.id] = doc.source
            docs.append(doc)
    return HelpCenter(tuple(docs), tuple(skipped))


def slug(text: str) -> str:
    """Lower-case ASCII letters, digits and single hyphens (accents folded: ``Gebühren`` -> ``gebuhren``)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _NOT_SLUG.sub("-", folded.lower()).strip("-")


def _walk(root: Path) -> tuple[list[Path], list[Path]]:
    """The supported files under ``root`` and the others, both sorted; hidden entries are left out."""
    files: list[Path] = []
    skipped: list[Path] = []
    for folder, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            path = Path(folder, name)
            if name.startswith(".") or not path.is_file():
                continue
            (files if path.suffix.lower() in SUPPORTED else skipped).append(path)
    for path in skipped:
        log.info("skipped %s: not a Markdown, HTML, JSON or JSON Lines file", path)
    # Sorted by path components: a folder's files and sub-folders interleave by name, on every platform alike.
    return (sorted(files, key=lambda p: p.relative_to(root).parts),
            sorted(skipped, key=lambda p: p.relative_to(root).parts))


def _read_file(path: Path, root: Path) -> list[tuple[ImportedDoc, int | None]]:
    """The documents in one file, each with its line (JSON Lines) or None."""
    text = _read_text(path)
    relative = path.relative_to(root) if path != root else Path(path.name)
    folder = (slug(relative.parts[0]) or None) if len(relative.parts) > 1 else None
    default_id = slug("-".join(relative.with_suffix("").parts)) or \
        "doc-" + hashlib.sha256(str(relative).encode()).hexdigest()[:10]  # a name with no Latin letters
    suffix = path.suffix.lower()
    if suffix in MARKDOWN:
        return [(_markdown_doc(path, text, default_id, folder), None)]
    if suffix in HTML:
        page = read_html(text)
        return [(_doc(path, None, None, default_id, page.title or path.stem, page.text, page.language, folder,
                      str(path)), None)]
    if suffix == ".json":
        return [(doc, None) for doc in _json_docs(path, text, default_id, folder)]
    return _jsonl_docs(path, text, default_id, folder)


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror}", str(path)) from exc
    if b"\x00" in data:
        raise DataError("binary file (it holds NUL bytes): export the article as text", str(path))
    try:
        return data.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text (byte {exc.start}): re-export it as UTF-8", str(path)) from exc


def _markdown_doc(path: Path, text: str, default_id: str, folder: str | None) -> ImportedDoc:
    meta, body = _front_matter(path, text)
    title = _string(meta, "title", path, None)
    lines = body.split("\n")
    heading_at = _first_h1(lines)
    if heading_at is not None:
        heading = lines[heading_at].strip().lstrip("#").strip().rstrip("#").strip()
        # The first heading is the title: taken out of the body, unless the front matter named another title
        # (then the heading is a section of the text and stays).
        if not title or heading.casefold() == title.casefold():
            title = title or heading
            del lines[heading_at]
    topic = _string(meta, "topic", path, None) or _string(meta, "category", path, None)
    return _doc(path, None, _string(meta, "id", path, None), default_id, title or path.stem, _markdown_body(lines),
                _string(meta, "language", path, None), (slug(topic) or None) if topic else folder, str(path))


def _front_matter(path: Path, text: str) -> tuple[dict[Any, Any], str]:
    """The YAML front matter (empty when the file has none) and the text after it."""
    lines = text.split("\n")
    if lines[0].strip() != "---":
        return {}, text
    end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
    if end is None:
        raise DataError("front matter opened with '---' is not closed with '---'", str(path), 1)
    return front_matter(path, lines, end), "\n".join(lines[end + 1 :])


def _first_h1(lines: list[str]) -> int | None:
    """The index of the first ``# `` heading outside code fences."""
    fenced = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(_FENCE):
            fenced = not fenced
        elif not fenced and (stripped == "#" or stripped.startswith("# ")):
            return i
    return None


def _markdown_body(lines: list[str]) -> str:
    """The body with every heading at ``##`` or below (the title is the only first-level one) and ``*``/``+``
    bullets written ``-``; code fences untouched."""
    out: list[str] = []
    fenced = False
    for line in lines:
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        written = line
        if stripped.startswith(_FENCE):
            fenced = not fenced
        elif not fenced and stripped.startswith("# "):
            written = f"{indent}#{stripped}"
        elif not fenced and stripped[:2] in ("* ", "+ "):
            written = f"{indent}- {stripped[2:]}"
        out.append(written.rstrip())
    return "\n".join(out)


def _json_docs(path: Path, text: str, default_id: str, folder: str | None) -> list[ImportedDoc]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"malformed JSON: {exc.msg} (column {exc.colno})", str(path), exc.lineno) from exc
    except RecursionError as exc:
        raise DataError("malformed JSON: nested too deeply", str(path)) from exc
    if not isinstance(data, list):
        return [_object_doc(path, None, data, default_id, folder, "")]
    return [_object_doc(path, None, item, f"{default_id}-{n}", folder, f"item {n}: ")
            for n, item in enumerate(data, start=1)]


def _jsonl_docs(path: Path, text: str, default_id: str, folder: str | None) -> list[tuple[ImportedDoc, int | None]]:
    return [(_object_doc(path, n, item, f"{default_id}-{n}", folder, ""), n) for n, item in json_lines(path, text)]


def _object_doc(path: Path, line: int | None, item: object, default_id: str, folder: str | None,
                label: str) -> ImportedDoc:
    """One exported article object; ``label`` says which item of a list it is."""
    if not isinstance(item, dict):
        raise DataError(f"{label}expected an object with 'title' and 'text', got {type(item).__name__}",
                        str(path), line)
    title = _string(item, "title", path, line, label)
    body = next((value for key in _TEXT_KEYS if (value := _string(item, key, path, line, label))), None)
    if not title:
        raise DataError(f"{label}object has no 'title'", str(path), line)
    if not body:
        raise DataError(f"{label}object has no text: give 'text', 'content' or 'body'", str(path), line)
    if looks_like_html(body):
        body = read_html(body).text
    category = _string(item, "category", path, line, label)
    language = _string(item, "language", path, line, label) or _string(item, "locale", path, line, label)
    source = f"{path}:{line}" if line else str(path)
    return _doc(path, line, _string(item, "id", path, line, label), default_id, title, body, language,
                (slug(category) or None) if category else folder, source, label)


def _string(mapping: dict[Any, Any], key: str, path: Path, line: int | None, label: str = "") -> str | None:
    """A text field, stripped (numbers, such as numeric ids, are written out); None when absent or null."""
    value = mapping.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise DataError(f"{label}'{key}' must be text, got {type(value).__name__}", str(path), line)
    return str(value).strip()


def _doc(path: Path, line: int | None, own_id: str | None, default_id: str, title: str, text: str,
         language: str | None, topic: str | None, source: str, label: str = "") -> ImportedDoc:
    """The record, once its fields are checked: an id that makes a slug, a body, a language code."""
    if own_id:
        doc_id = slug(own_id)
        if not doc_id:
            raise DataError(f"{label}id '{own_id}' has no letters or digits to make a slug from", str(path), line)
    else:
        doc_id = default_id
    body = re.sub(r"\n{3,}", "\n\n", text).strip()
    if not body:
        raise DataError(f"{label}document has no text", str(path), line)
    return ImportedDoc(doc_id, " ".join(title.split()), body, _language(language, path, line, label), topic, source)


def _language(value: str | None, path: Path, line: int | None, label: str) -> str | None:
    """``en``, ``en-US``, ``en_us`` -> ``en``; None when not given."""
    if not value:
        return None
    code = value.strip().lower().replace("_", "-").split("-")[0]
    if not _LANGUAGE.match(code):
        raise DataError(f"{label}language '{value}' is not a two-letter ISO 639-1 code (en, de, ...)",
                        str(path), line)
    return code
