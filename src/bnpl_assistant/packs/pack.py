"""An operator pack: the folder that holds everything domain-specific (see ``docs/packs.md``).

```
<pack>/pack.yaml                  name, company, languages, fallback language, support hours, channels, teams
<pack>/topics.yaml                the topics (id, title or scope, category, outcome, team, optional answer)
<pack>/articles/<lang>/*.md       the help articles (the demo pack keeps the older <pack>/<lang>/*.md layout)
<pack>/tickets/*.jsonl | *.csv    labelled examples: text, label (topic id | out_of_scope | handoff), language
<pack>/thresholds.yaml            the policy thresholds onboarding chose by cross-validation (optional)
<pack>/account_intents.yaml       phrasings of the account actions, for a pack with customer accounts (optional)
<pack>/replies.yaml               reply lines that replace the engine's, per language (optional)
```

A pack is read-only input: what is built from it (index, classifier, caches, database) lives in the data
directory, under a folder named after the pack, and is rebuilt from the pack alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bnpl_assistant import languages as language_table
from bnpl_assistant.errors import DataError
from bnpl_assistant.packs.docs import slug
from bnpl_assistant.yamlio import YAMLError, read_yaml

DEMO = "hallon"  # the demo pack's name: its built files stay at the data directory's top level
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{1,62}$")


@dataclass(frozen=True)
class Pack:
    """One operator's pack, as read from its ``pack.yaml``."""

    root: Path
    name: str
    company: str
    languages: tuple[str, ...]
    fallback_language: str
    support_hours: str | None = None
    support_timezone: str | None = None
    channels: dict[str, str] = field(default_factory=dict)
    teams: dict[str, str] = field(default_factory=dict)  # team id -> display name

    @property
    def topics_path(self) -> Path:
        return self.root / "topics.yaml"

    @property
    def articles_dir(self) -> Path:
        """``articles/`` when the pack has one; else the pack root (the demo pack's ``<lang>/`` layout)."""
        folder = self.root / "articles"
        return folder if folder.is_dir() else self.root

    @property
    def ticket_files(self) -> list[Path]:
        folder = self.root / "tickets"
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".jsonl", ".csv"))

    def optional(self, name: str) -> Path | None:
        """``<pack>/<name>`` when it exists."""
        path = self.root / name
        return path if path.is_file() else None


def _mapping(raw: Any, key: str, where: str) -> dict[str, str]:
    value = raw.get(key) or {}
    if isinstance(value, list):  # a plain list of team ids / channel names
        return {str(v): str(v) for v in value}
    if not isinstance(value, dict):
        raise DataError(f"'{key}' must be a mapping or a list", where)
    return {str(k): str(v) for k, v in value.items()}


def _support_hours(value: Any, where: str) -> dict[str, str]:
    """``support_hours`` as ``{hours, timezone}``, checked by the parser the live hand-off uses."""
    from bnpl_assistant.errors import ConfigError
    from bnpl_assistant.support.hours import DEFAULT_HOURS, DEFAULT_TIMEZONE, SupportHours

    hours = {"hours": value} if isinstance(value, str) else (value or {})
    if not isinstance(hours, dict):
        raise DataError("'support_hours' must be a mapping with 'hours' and 'timezone'", where)
    if hours.get("hours") or hours.get("timezone"):
        try:
            SupportHours.parse(str(hours.get("hours") or DEFAULT_HOURS), str(hours.get("timezone") or DEFAULT_TIMEZONE))
        except ConfigError as exc:
            raise DataError(str(exc), where) from exc
    return {k: str(v) for k, v in hours.items() if v}


def load_pack(root: Path) -> Pack:
    """Read ``<root>/pack.yaml``.

    Raises:
        DataError: no pack there, or a field is missing or invalid (naming the file and, where known, the line).
    """
    path = root / "pack.yaml"
    where = str(path)
    if not root.is_dir():
        raise DataError("no such pack folder", str(root))
    if not path.is_file():
        raise DataError("not a pack: pack.yaml is missing (see docs/packs.md, or run "
                        "`bnpl-assistant onboard --pack DIR ...` to create one)", str(root))
    try:
        raw = read_yaml(path.read_text(encoding="utf-8")) or {}
    except (YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DataError(f"invalid YAML: {exc}", where, mark.line + 1 if mark is not None else None) from exc
    if not isinstance(raw, dict):
        raise DataError("pack.yaml must be a mapping", where)
    name = str(raw.get("name") or "")
    if not NAME.match(name):
        raise DataError(f"'name' must be 2-63 characters of a-z, 0-9, '-' or '_' (got {name!r})", where)
    langs = raw.get("languages") or ["en"]
    if isinstance(langs, str):
        langs = [s.strip() for s in langs.split(",")]
    unknown = [code for code in langs if language_table.get(str(code)) is None]
    if unknown:
        raise DataError(f"unsupported languages {unknown}; supported: {', '.join(language_table.SUPPORTED)}", where)
    fallback = str(raw.get("fallback_language") or langs[0])
    if fallback not in langs:
        raise DataError(f"fallback_language '{fallback}' is not among languages {list(langs)}", where)
    hours = _support_hours(raw.get("support_hours"), where)
    return Pack(root=root, name=name, company=str(raw.get("company") or name), languages=tuple(map(str, langs)),
                fallback_language=fallback, support_hours=hours.get("hours"), support_timezone=hours.get("timezone"),
                channels=_mapping(raw, "channels", where), teams=_mapping(raw, "teams", where))


def bare_pack(root: Path, languages: tuple[str, ...]) -> Pack:
    """A folder with only ``topics.yaml`` and articles (the layout before packs): a pack named after it."""
    name = slug(root.resolve().name)[:60]
    return Pack(root=root, name=name if NAME.match(name) else "pack", company="us", languages=languages,
                fallback_language=language_table.FALLBACK)


def write_pack_yaml(root: Path, name: str, company: str, languages: list[str], fallback: str) -> Path:
    """A minimal ``pack.yaml`` for a new pack (onboarding, when the folder has none yet)."""
    import yaml

    root.mkdir(parents=True, exist_ok=True)
    path = root / "pack.yaml"
    body = {"name": name, "company": company, "languages": languages, "fallback_language": fallback,
            "support_hours": {"hours": "mon-fri 09:00-17:00", "timezone": "UTC"},
            "channels": {"email": "support@example.com"}, "teams": {"customer-care": "Customer care"}}
    path.write_text("# Written by `bnpl-assistant onboard`; edit freely (see docs/packs.md).\n"
                    + yaml.safe_dump(body, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path
