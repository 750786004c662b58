"""The resolution rate and its 95% interval, from an eval run or from the live conversation log.

Reads what other modules write and never writes it: ``DIR/<dataset>/metrics.json`` from the eval
harness, and the assistant's conversation log through its storage reader.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bnpl_assistant.deflection.scenario import ResolutionSpec
from bnpl_assistant.errors import DataError
from bnpl_assistant.storage import MissingSchemaError, OperationalError, read_log_resolution, redacted, sqlite_path

Z95 = 1.959963984540054


@dataclass(frozen=True)
class ResolutionInput:
    """A resolution rate with its 95% interval.

    Attributes:
        value: Share of assistant conversations resolved without a human.
        low: Lower end of the 95% interval.
        high: Upper end of the 95% interval.
        containment: Share that never escalated (>= value), when known; the gap are customers who
            left unresolved and come back to a human.
        n: Conversations or tickets behind the estimate (0 when not measured).
        source: Where the numbers came from, for the report.
    """

    value: float
    low: float
    high: float
    containment: float | None = None
    n: int = 0
    source: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.low <= self.value <= self.high <= 1:
            raise DataError(f"resolution: need 0 <= low <= value <= high <= 1, got {self.value} "
                            f"[{self.low}, {self.high}] from {self.source or 'input'}")

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict."""
        return asdict(self)


def resolution_from_spec(spec: ResolutionSpec) -> ResolutionInput:
    """The resolution rate a scenario file states for itself."""
    return ResolutionInput(spec.value, spec.low, spec.high, spec.containment, 0, spec.source)


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion.

    Args:
        successes: Count of successes.
        n: Trials (> 0).
        z: Normal quantile; the default gives a 95% interval.

    Returns:
        (low, high), inside [0, 1].
    """
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _metric(metrics: dict[str, Any], name: str, n: int, path: Path) -> tuple[float, float, float]:
    try:
        block = metrics["overall"][name]
        value = float(block["value"])
        bounds = block.get("low"), block.get("high")
        if None in bounds:  # the harness writes NaN as null when it could not bootstrap
            low, high = wilson_interval(round(value * n), n)
        else:
            low, high = (float(b) for b in bounds)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataError(f"overall.{name}: needs value, low and high", path=str(path)) from exc
    return value, low, high


def _read_metrics(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"cannot read metrics: {exc}", path=str(path)) from exc
    if not isinstance(data, dict) or not isinstance(data.get("overall"), dict):
        raise DataError("overall: missing (is this an eval run's metrics.json?)", path=str(path))
    return data


def _datasets(results_dir: Path) -> dict[str, Path]:
    if (results_dir / "metrics.json").is_file():  # pointed straight at one dataset's folder
        return {results_dir.name: results_dir / "metrics.json"}
    return {p.parent.name: p for p in sorted(results_dir.glob("*/metrics.json"))}


def resolution_from_results(results_dir: Path, dataset: str | None = None) -> ResolutionInput:
    """Resolution rate from an eval run: ``DIR/<dataset>/metrics.json``.

    Several datasets are pooled by ticket count: the rate is the n-weighted mean, and the interval
    comes from each dataset's standard error (half its 95% interval / 1.96) combined with the same
    weights, as for independent samples.

    Args:
        results_dir: The eval run's folder (or one dataset's folder inside it).
        dataset: Use only this dataset.

    Returns:
        The resolution rate, its interval, the containment rate and the ticket count.

    Raises:
        DataError: No metrics there, an unknown dataset (the message lists the valid ones), or a
            metrics file without the expected fields.
    """
    found = _datasets(Path(results_dir))
    if not found:
        raise DataError(f"no eval results in {results_dir} (expected <dataset>/metrics.json): "
                        "run the evals first, or use --log or the scenario's resolution")
    if dataset is not None:
        if dataset not in found:
            raise DataError(f"unknown dataset {dataset!r} in {results_dir}: choose one of "
                            f"{', '.join(sorted(found))}")
        found = {dataset: found[dataset]}
    parts = []
    for name, path in found.items():
        metrics = _read_metrics(path)
        n = metrics["overall"].get("n")
        if not isinstance(n, int) or n <= 0:
            raise DataError("overall.n: must be a ticket count > 0", path=str(path))
        resolved = _metric(metrics, "verified_resolution_rate", n, path)
        contained = _metric(metrics, "containment_rate", n, path)
        parts.append((name, n, resolved, contained))
    total = sum(n for _, n, _, _ in parts)
    value, low, high = _pool([(n / total, r) for _, n, r, _ in parts])
    containment, _, _ = _pool([(n / total, c) for _, n, _, c in parts])
    names = ", ".join(f"{name} (n={n})" for name, n, _, _ in parts)
    return ResolutionInput(value, min(low, value), max(high, value), max(containment, value), total,
                           f"eval run {results_dir}: {names}")


def _pool(parts: list[tuple[float, tuple[float, float, float]]]) -> tuple[float, float, float]:
    if len(parts) == 1:
        return parts[0][1]
    value = sum(w * v for w, (v, _, _) in parts)
    se = math.sqrt(sum((w * (hi - lo) / (2 * Z95)) ** 2 for w, (_, lo, hi) in parts))
    return value, max(0.0, value - Z95 * se), min(1.0, value + Z95 * se)


def resolution_from_log(db_path: Path | str) -> ResolutionInput:
    """Resolution rate from the assistant's conversation log.

    Containment and resolution are defined once, in :class:`bnpl_assistant.storage.ResolutionCounts`
    (the dashboard shows the same figures): a conversation is contained when none of its turns has
    outcome ``escalate``, and resolved when it is contained and got no thumbs-down (feedback -1). The
    interval is Wilson's 95% score interval.

    Args:
        db_path: The database the assistant writes: a SQLite file (opened read-only) or a database URL.

    Returns:
        The resolution rate, its interval, the containment rate and the conversation count.

    Raises:
        DataError: No log yet (no file, no ``turns`` table or no conversations).
    """
    run_first = "run the assistant first (`bnpl-assistant chat` or the web page) so it logs conversations"
    file = sqlite_path(db_path)
    if file is not None and not file.is_file():
        raise DataError(f"no conversation log at {db_path}: {run_first}")
    where = redacted(db_path)
    try:
        counts = read_log_resolution(db_path)
    except MissingSchemaError as exc:
        raise DataError(f"{where} has no conversation log ({exc.orig}): {run_first}") from exc
    except OperationalError as exc:
        raise DataError(f"cannot read the conversation log: {exc.orig}", path=where) from exc
    n, resolved = counts.conversations, counts.resolved
    if not n:
        raise DataError(f"the conversation log at {where} is empty: {run_first}")
    low, high = wilson_interval(resolved, n)
    return ResolutionInput(resolved / n, min(low, resolved / n), max(high, resolved / n), counts.contained / n, n,
                           f"conversation log {where}: {n} conversations")
