"""The deflection scenario: a typed model of the YAML file, its loader and the bundled presets.

Every error names the field that is wrong ("scenario.yaml: monthly_volume: must be > 0"), and the
comments next to each input in the YAML are kept as ``notes`` so the report can show where a number
came from.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bnpl_assistant.errors import DataError
from bnpl_assistant.yamlio import YAMLError, read_yaml

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PRESET_PACKAGE = "bnpl_assistant.deflection.presets"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceLevel(_Strict):
    """Share of contacts answered within a time, e.g. 80% in 60 s."""

    target: float = Field(gt=0, lt=1)  # 100% is never reached: Erlang C would search forever
    answer_seconds: float = Field(gt=0)


class ResolutionSpec(_Strict):
    """A resolution rate written into the scenario, used when no eval run or log is given."""

    value: float = Field(ge=0, le=1)
    low: float = Field(ge=0, le=1)
    high: float = Field(ge=0, le=1)
    containment: float | None = Field(default=None, ge=0, le=1)
    source: str = "scenario file"

    @model_validator(mode="after")
    def _ordered(self) -> ResolutionSpec:
        if not self.low <= self.value <= self.high:
            raise ValueError("low <= value <= high does not hold")
        if self.containment is not None and self.containment < self.value:
            raise ValueError("containment must be >= value (a resolved conversation is contained)")
        return self


class AssistantCost(_Strict):
    """What running the assistant costs: tokens per conversation times price, plus a fixed part."""

    tokens_per_conversation: float = Field(ge=0)
    price_per_million_tokens: float = Field(ge=0)
    fixed_per_month: float = Field(default=0.0, ge=0)

    @property
    def per_conversation(self) -> float:
        """Token cost of one assistant conversation."""
        return self.tokens_per_conversation * self.price_per_million_tokens / 1_000_000


class Claim(_Strict):
    """A published FTE-equivalent figure the report checks the model against."""

    fte: float = Field(gt=0)
    source: str
    band: float = Field(default=0.05, gt=0, lt=1)
    assistant_conversations: float | None = Field(default=None, gt=0)
    customer_minutes_with_human: float | None = Field(default=None, gt=0)
    customer_minutes_with_assistant: float | None = Field(default=None, gt=0)


class Scenario(_Strict):
    """Every input of the deflection model. See the presets for a commented example of each."""

    name: str
    description: str = ""
    channel: Literal["chat", "voice", "email"]
    currency: str = Field(default="EUR", description="default: euro")
    monthly_volume: float = Field(gt=0)
    days_per_month: float = Field(default=365.25 / 12, gt=0, le=31,
                                  description="default: the average month, 365.25 / 12 days")
    interval_minutes: Literal[15, 30, 60] = Field(default=30, description="default: half-hour intervals")
    intraday_profile: list[float] = Field(min_length=24)
    weekday_profile: list[float] = Field(min_length=7, max_length=7)
    opening_hours: dict[Weekday, tuple[int, int] | None] = Field(
        default_factory=dict, description="default: a day not listed is open 24 hours")
    aht_minutes: float = Field(gt=0)
    concurrency: float = Field(default=1.0, ge=1, description="default: one contact at a time")
    escalated_aht_factor: float = Field(default=1.0, ge=1,
                                        description="default: escalations take the normal handle time")
    service_level: ServiceLevel
    max_occupancy: float = Field(gt=0, le=1)
    shrinkage: float = Field(ge=0, lt=1)
    paid_hours_per_fte_month: float = Field(gt=0)
    cost_per_agent_hour: float = Field(ge=0)
    involvement: float = Field(ge=0, le=1)
    recontact_rate: float = Field(ge=0, lt=1)
    assistant_cost: AssistantCost
    resolution: ResolutionSpec | None = None
    claim: Claim | None = None
    notes: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        per_day = 24 * 60 // self.interval_minutes
        if len(self.intraday_profile) not in (24, per_day):
            raise ValueError(f"intraday_profile: needs 24 hourly or {per_day} per-interval weights, "
                             f"got {len(self.intraday_profile)}")
        for field in ("intraday_profile", "weekday_profile"):
            weights = getattr(self, field)
            if any(w < 0 for w in weights) or sum(weights) <= 0:
                raise ValueError(f"{field}: weights must be >= 0 and not all 0")
        for day, hours in self.opening_hours.items():
            if hours is not None and not 0 <= hours[0] < hours[1] <= 24:
                raise ValueError(f"opening_hours.{day}: needs 0 <= open < close <= 24")
        if sum(self.arrival_shares()) == 0:
            raise ValueError("opening_hours: no open interval carries any weight")
        if self.channel != "chat" and self.concurrency != 1:
            raise ValueError(f"concurrency: must be 1 for {self.channel} (only chat is concurrent)")
        return self

    def arrival_shares(self) -> list[float]:
        """Share of a week's contacts in each interval, Monday 00:00 first, summing to 1.

        Each day gets its ``weekday_profile`` share, spread over its open intervals by the
        ``intraday_profile``; a day with no open interval hands its share to the others.
        """
        per_day = 24 * 60 // self.interval_minutes
        step = per_day // len(self.intraday_profile)
        intraday = [w for w in self.intraday_profile for _ in range(step)]
        shares: list[float] = []
        for day, day_weight in zip(WEEKDAYS, self.weekday_profile, strict=True):
            hours = self.opening_hours.get(day, (0, 24))
            start, end = (0, 0) if hours is None else hours
            masked = [w if start * 60 <= j * self.interval_minutes < end * 60 else 0.0
                      for j, w in enumerate(intraday)]
            total = sum(masked)
            shares.extend(day_weight * w / total if total else 0.0 for w in masked)
        week = sum(shares)
        return [s / week for s in shares] if week else shares

    @property
    def agent_minutes_per_contact(self) -> float:
        """Agent time one contact takes: handle time divided by chat concurrency."""
        return self.aht_minutes / self.concurrency


def scenario_field_help(name: str) -> str:
    """The built-in explanation of a scenario field (its default's reasoning), or ""."""
    info = Scenario.model_fields.get(name)
    return (info.description or "") if info else ""


_MESSAGES = {
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be <= {le}",
    "missing": "missing (required)",
    "extra_forbidden": "unknown field",
    "too_short": "needs at least {min_length} items",
    "too_long": "needs at most {max_length} items",
}


def _describe(error: dict[str, Any]) -> str:
    loc = ".".join(str(part) for part in error["loc"])
    template = _MESSAGES.get(error["type"])
    if template:
        message = template.format(**{k: _num(v) for k, v in error.get("ctx", {}).items()})
    elif error["type"] == "literal_error":
        message = f"must be {error['ctx']['expected']}"
    else:
        message = str(error["msg"]).removeprefix("Value error, ")
    if not loc:  # a whole-model check already names its field
        return message
    return f"{loc}: {message}"


def _num(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


_KEY = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Za-z_][\w-]*)\s*:(?P<rest>.*)$")


def _comments(text: str) -> dict[str, str]:
    """Comments attached to each key, by dotted path: the lines just above it and any trailing one."""
    notes: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    pending: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("#").strip())
            continue
        match = _KEY.match(line)
        if not match:
            if not stripped:
                pending = []
            continue
        indent = len(match["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = ".".join([k for _, k in stack] + [match["key"]])
        stack.append((indent, match["key"]))
        trailing = match["rest"].split(" #", 1)[1].strip() if " #" in match["rest"] else ""
        note = " ".join(pending + ([trailing] if trailing else [])).strip()
        if note:
            notes[path] = note
        pending = []
    return notes


def parse_scenario(text: str, source: str) -> Scenario:
    """Validate YAML text as a scenario.

    Args:
        text: The YAML document.
        source: The name to put in error messages (a path or ``preset:NAME``).

    Returns:
        The validated scenario, with the YAML comments kept in ``notes``.

    Raises:
        DataError: The YAML is malformed or a field is missing or out of range; the message names it.
    """
    try:
        raw = read_yaml(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DataError(f"not valid YAML: {getattr(exc, 'problem', exc)}", path=source,
                        line=mark.line + 1 if mark else None) from exc
    except (ValueError, RecursionError) as exc:  # a date that does not exist ("2026-02-30"), nesting too deep
        raise DataError(f"not valid YAML: {exc}", path=source) from exc
    if not isinstance(raw, dict):
        raise DataError("a scenario is a mapping of fields (name, channel, monthly_volume, ...)", path=source)
    raw.setdefault("notes", _comments(text))
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(_describe(dict(e)) for e in exc.errors())
        raise DataError(problems, path=source) from exc


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario YAML file.

    Args:
        path: The YAML file.

    Returns:
        The validated scenario.

    Raises:
        DataError: The file is missing, not YAML, or a field is invalid (the message names the field).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read scenario: {getattr(exc, 'strerror', None) or exc}", path=str(path)) from exc
    return parse_scenario(text, str(path))


def preset_names() -> list[str]:
    """The bundled presets, sorted."""
    folder = resources.files(PRESET_PACKAGE)
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_preset(name: str) -> Scenario:
    """Load a bundled scenario by name (``klarna-2024``, ``demo``).

    Args:
        name: The preset's name, without ``.yaml``.

    Returns:
        The validated scenario.

    Raises:
        DataError: No preset has that name; the message lists the valid ones.
    """
    names = preset_names()
    if name not in names:
        raise DataError(f"unknown preset {name!r}: choose one of {', '.join(names)}")
    text = resources.files(PRESET_PACKAGE).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    return parse_scenario(text, f"preset:{name}")
