"""Eval throughput: tickets per second through the eval harness on the external suite, offline."""

from __future__ import annotations

from benchmarks.common import (
    EXTERNAL_SET,
    BenchContext,
    BenchResult,
    Metric,
    Table,
    stopwatch,
    warm_up,
)
from bnpl_assistant.evals import metrics
from bnpl_assistant.evals.dataset import load_dataset
from bnpl_assistant.evals.runner import run_dataset
from bnpl_assistant.wiring import build

TARGET = 25.0


def run(ctx: BenchContext) -> BenchResult:
    result = BenchResult("eval_throughput", "Eval throughput on the external suite")
    if not EXTERNAL_SET.exists():
        result.skipped = f"{EXTERNAL_SET} not found"
        return result
    # Wired as `bnpl-assistant eval` wires it: no conversation log, a scratch accounts database.
    assistant = build(ctx.built(), log_turns=False, db_path=ctx.tmp("eval") / "eval.sqlite3").assistant
    warm_up(assistant)
    dataset = load_dataset(EXTERNAL_SET, set(assistant.topics.ids))
    with stopwatch() as t:
        rows = run_dataset(assistant, dataset, limit=ctx.limit, workers=1)
    rate = len(rows) / t["s"] if t["s"] else 0.0
    latency = sorted(r["latency_ms"] for r in rows)
    result.metrics += [
        Metric("tickets/s (1 worker, offline)", round(rate, 1), "tickets/s", f">= {TARGET:g}/s", rate >= TARGET),
    ]
    result.tables.append(Table("External suite through `evals.runner.run_dataset`",
                               ["tickets", "seconds", "tickets/s", "median turn ms", "topic acc@1"], [
        [len(rows), round(t["s"], 1), round(rate, 1), round(latency[len(latency) // 2], 2),
         round(metrics.topic_accuracy(rows), 3)],
    ]))
    result.data.update({"tickets": len(rows), "seconds": t["s"], "tickets_per_second": rate,
                        "topic_accuracy": metrics.topic_accuracy(rows)})
    result.notes.append(
        "What `bnpl-assistant eval` does per ticket, minus writing files: every turn through `respond()`, "
        "then the reply's language check and the extractive groundedness score. One worker (the CLI default); "
        "the assistant is built as the CLI's eval builds it (no conversation log, scratch accounts database), "
        "with its own fresh query cache; model loading is outside the timer (warm-up first).")
    return result
