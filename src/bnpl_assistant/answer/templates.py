"""Fixed reply lines per language (package data, not strings in logic): the assistant's own lines
(``data/prompts/replies.yaml``) and the account actions' lines (``data/prompts/account_replies.yaml``)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from bnpl_assistant.languages import FALLBACK
from bnpl_assistant.yamlio import read_yaml


@cache
def _book(name: str) -> dict[str, Any]:
    text = resources.files("bnpl_assistant").joinpath(f"data/prompts/{name}.yaml").read_text(encoding="utf-8")
    return dict(read_yaml(text))


def _lines() -> dict[str, Any]:
    return _book("replies")


def _fill(table: dict[str, Any], key: str, language: str, values: dict[str, object]) -> str:
    text = table.get(language, {}).get(key) or table["en"][key]
    return str(text).format(**values) if values else str(text)


def line(key: str, language: str, **values: object) -> str:
    """The template ``key`` in ``language`` (English when that language lacks it), filled in."""
    return _fill(_lines(), key, language, values)


def account_line(key: str, language: str, **values: object) -> str:
    """An account action's template ``key`` in ``language`` (English when that language lacks it), filled in."""
    return _fill(_book("account_replies"), key, language, values)


def account_group(name: str, language: str) -> dict[str, str]:
    """A group of account lines keyed by a value (``plans`` by plan, ``policy`` by refusal code,
    ``none_eligible`` by action) in ``language``, English when that language lacks the group."""
    table = _book("account_replies")
    return dict(table.get(language, {}).get(name) or table["en"][name])


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
