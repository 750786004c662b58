"""Fixed reply lines per language (package data, not strings in logic)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

from bnpl_assistant.languages import FALLBACK


@cache
def _lines() -> dict[str, Any]:
    text = resources.files("bnpl_assistant").joinpath("data/prompts/replies.yaml").read_text(encoding="utf-8")
    return dict(yaml.safe_load(text))


def line(key: str, language: str, **values: object) -> str:
    """The template ``key`` in ``language`` (English when that language lacks it), filled in."""
    table = _lines()
    text = table.get(language, {}).get(key) or table["en"][key]
    return str(text).format(**values) if values else str(text)


def team_name(team: str | None, language: str) -> str:
    names = _lines()["teams"]
    table = names.get(language) or names[FALLBACK]
    return str(table.get(team or "customer-care", team or "customer care"))


def all_template_lines() -> list[str]:
    """Every template line in every language, for the groundedness check."""
    out: list[str] = []
    for lang, entries in _lines().items():
        if lang == "teams":
            continue
        out.extend(str(v) for v in entries.values() if v)
    return out
