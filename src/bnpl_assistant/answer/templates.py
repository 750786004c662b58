"""Fixed reply lines per language (package data, not strings in logic): the assistant's own lines
(``data/prompts/replies.yaml``) and the account actions' lines (``data/prompts/account_replies.yaml``).

The lines name the company as ``{company}``; :func:`use_pack` fills in the pack's name and lays the pack's own
``replies.yaml`` (same layout, any subset of lines) over the engine's. A process serves one pack at a time:
``wiring.build_core`` calls it with the pack it loads."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bnpl_assistant.languages import FALLBACK
from bnpl_assistant.yamlio import YAMLError, read_yaml

if TYPE_CHECKING:
    from bnpl_assistant.packs.pack import Pack

_active: dict[str, Any] = {"company": "us", "hours": "", "overrides": {}}


def use_pack(pack: Pack) -> None:
    """Fill ``{company}`` with ``pack.company`` and use the pack's ``replies.yaml`` lines where it has them.

    Raises:
        DataError: the pack's ``replies.yaml`` is not valid YAML or not a mapping of languages.
    """
    from bnpl_assistant.errors import DataError

    overrides: dict[str, Any] = {}
    path: Path | None = pack.optional("replies.yaml")
    if path is not None:
        try:
            overrides = dict(read_yaml(path.read_text(encoding="utf-8")) or {})
        except (YAMLError, TypeError, ValueError) as exc:
            raise DataError(f"invalid replies file: {exc}", str(path)) from exc
    from bnpl_assistant.support.hours import DEFAULT_HOURS, DEFAULT_TIMEZONE

    hours = f"{pack.support_hours or DEFAULT_HOURS}, {pack.support_timezone or DEFAULT_TIMEZONE}"
    _active.update(company=pack.company, hours=hours, overrides=overrides)


def company() -> str:
    """The company name of the pack in use."""
    return str(_active["company"])


def with_company(text: str) -> str:
    """``text`` with the pack's company name in place of ``{company}`` / ``{company_lc}`` and its support hours in
    place of ``{hours}``."""
    name = company()
    return (text.replace("{company_lc}", name.lower().replace(" ", "")).replace("{company}", name)
            .replace("{hours}", str(_active["hours"])))


@cache
def _book(name: str) -> dict[str, Any]:
    text = resources.files("bnpl_assistant").joinpath(f"data/prompts/{name}.yaml").read_text(encoding="utf-8")
    return dict(read_yaml(text))


def _lines() -> dict[str, Any]:
    return _book("replies")


def _fill(table: dict[str, Any], key: str, language: str, values: dict[str, object]) -> str:
    own = _active["overrides"]
    text = ((own.get(language) or {}).get(key) or table.get(language, {}).get(key) or (own.get("en") or {}).get(key)
            or table["en"][key])
    text = with_company(str(text))
    return text.format(**values) if values else text


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
        out.extend(with_company(str(v)) for v in entries.values() if v)
    return out
