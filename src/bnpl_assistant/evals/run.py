"""``run_eval``: datasets through a freshly built assistant on a scratch database, outputs and report.

The datasets are read and checked first (their topics against the knowledge base's ``topics.yaml``), so a
missing or malformed dataset fails in a fraction of a second, before the index or any model is loaded.
The live database is never opened: the components are built on a scratch copy of the demo accounts, which
is removed afterwards (also when a run breaks).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bnpl_assistant.evals.dataset import LoadedDataset, load_dataset
from bnpl_assistant.evals.report import compare, dataset_section, write_report
from bnpl_assistant.evals.runner import dataset_metrics, run_dataset, write_outputs
from bnpl_assistant.kb.topics import load_topics
from bnpl_assistant.providers.base import ChatModel
from bnpl_assistant.settings import Settings
from bnpl_assistant.wiring import build, remove_scratch, scratch_database

MAX_WORKERS = 16

# (dataset name, tickets in it) -> advance(n): the caller's progress display for one dataset
ProgressFactory = Callable[[str, int], Callable[[int], None]]


@dataclass(frozen=True)
class DatasetRun:
    """One dataset's results: where they were written, its metrics and rows."""

    dataset: LoadedDataset
    target: Path
    summary: dict[str, Any]
    rows: list[dict[str, Any]]


@dataclass(frozen=True)
class EvalRun:
    """A whole run: each dataset, the report and, with a baseline, the metrics that moved."""

    datasets: list[DatasetRun]
    report: Path
    regressions: list[str] = field(default_factory=list)


def run_eval(settings: Settings, datasets: list[Path], out: Path, *, limit: int | None = None,
             workers: int = 1, skip_bad: bool = False, baseline: Path | None = None,
             llm: ChatModel | None = None, progress: ProgressFactory | None = None) -> EvalRun:
    """Run every dataset and write ``out/<stem>/results.jsonl``, ``metrics.json`` and ``out/report.md``.

    Raises:
        BnplError: a dataset does not load (checked before anything is built), or the assistant cannot be
            built (no index...).
    """
    topic_ids = set(load_topics(settings.knowledge_dir / "topics.yaml").ids)
    loaded = [load_dataset(p, topic_ids, skip_bad=skip_bad) for p in datasets]
    scratch = scratch_database()
    try:
        assistant = build(settings, db_path=scratch, llm=llm, log_turns=False).assistant
        workers = max(1, min(workers, MAX_WORKERS))
        runs: list[DatasetRun] = []
        regressions: list[str] = []
        for ds in loaded:
            total = min(len(ds.tickets), limit) if limit else len(ds.tickets)
            started = time.perf_counter()
            rows = run_dataset(assistant, ds, limit, workers, progress=progress(ds.name, total) if progress else None)
            summary = dataset_metrics(rows, ds, time.perf_counter() - started, settings.llm)
            runs.append(DatasetRun(ds, write_outputs(out, ds, rows, summary), summary, rows))
            if baseline is not None:
                regressions += compare(summary, baseline, ds.name)
    finally:
        remove_scratch(scratch)
    sections = [dataset_section(run.target, run.summary, run.rows) for run in runs]
    report = write_report(out, sections, regressions if baseline is not None else None)
    return EvalRun(runs, report, regressions)
