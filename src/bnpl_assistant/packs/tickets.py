"""A pack's labelled tickets: ``tickets/*.jsonl`` or ``*.csv`` with ``text``, ``label`` and an optional ``language``.

``label`` is a topic id, ``out_of_scope`` (a message the operator does not support: it is refused) or
``handoff`` (a request for a person). A ticket without a language counts for every language's classifier.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bnpl_assistant.errors import DataError

OUT_OF_SCOPE = "out_of_scope"
HANDOFF = "handoff"
SPECIAL_LABELS = (OUT_OF_SCOPE, HANDOFF)
MAX_TEXT = 4000


@dataclass(frozen=True)
class LabelledTicket:
    text: str
    label: str
    language: str | None
    where: str  # file:line


def _decode(path: Path) -> str:
    data = path.read_bytes()
    if b"\x00" in data:
        raise DataError("binary file (NUL bytes): expected UTF-8 text, JSON Lines or CSV", str(path))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text (byte {exc.start})", str(path)) from exc


def json_lines(path: Path, text: str) -> Iterator[tuple[int, Any]]:
    """Each non-blank line of a JSON Lines file, parsed, with its line number.

    Raises:
        DataError: a line that is not JSON (file and line named).
    """
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"malformed JSON: {exc.msg} (column {exc.colno})", str(path), number) from exc
        except RecursionError as exc:
            raise DataError("malformed JSON: nested too deeply", str(path), number) from exc


def _rows(path: Path) -> list[tuple[int, dict[str, object]]]:
    text = _decode(path)
    if path.suffix == ".jsonl":
        rows: list[tuple[int, dict[str, object]]] = []
        for number, row in json_lines(path, text):
            if not isinstance(row, dict):
                raise DataError("each line must be a JSON object with 'text' and 'label'", str(path), number)
            rows.append((number, row))
        return rows
    if path.suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or not {"text", "label"} <= {f.strip() for f in reader.fieldnames}:
            raise DataError("a CSV of tickets needs a header with 'text' and 'label' (and optionally 'language')",
                            str(path), 1)
        return [(reader.line_num, {k.strip(): v for k, v in row.items() if k}) for row in reader]
    raise DataError("tickets must be .jsonl or .csv", str(path))


def read_tickets(paths: list[Path], topic_ids: Collection[str] | None = None) -> list[LabelledTicket]:
    """Every labelled ticket in ``paths``, in file order, checked.

    Args:
        paths: JSON Lines or CSV files.
        topic_ids: the known topics; a label that is neither one of them nor a special label is an error.
            None accepts any label (onboarding makes new topics of them).

    Raises:
        DataError: a malformed file or row, an empty text, an unknown or invalid label (file and line named).
    """
    out: list[LabelledTicket] = []
    for path in paths:
        if not path.is_file():
            raise DataError("no such tickets file", str(path))
        for number, row in _rows(path):
            text = str(row.get("text") or "").strip()
            label = str(row.get("label") or "").strip()
            language = str(row.get("language") or "").strip() or None
            if not text:
                raise DataError("empty 'text'", str(path), number)
            if len(text) > MAX_TEXT:
                raise DataError(f"'text' longer than {MAX_TEXT} characters", str(path), number)
            if not label:
                raise DataError("empty 'label' (a topic id, out_of_scope or handoff)", str(path), number)
            if topic_ids is not None and label not in topic_ids and label not in SPECIAL_LABELS:
                raise DataError(f"unknown label '{label}': not a topic in topics.yaml, nor out_of_scope or handoff",
                                str(path), number)
            out.append(LabelledTicket(text, label, language, f"{path}:{number}"))
    return out
