"""Runs tickets through the assistant and writes ``results.jsonl`` and ``metrics.json`` per dataset."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bnpl_assistant.answer.templates import all_template_lines
from bnpl_assistant.assistant import Assistant
from bnpl_assistant.conversation import Conversation, Reply
from bnpl_assistant.evals import metrics
from bnpl_assistant.evals.dataset import LoadedDataset, Ticket
from bnpl_assistant.evals.records import ResultRow
from bnpl_assistant.languages import KNOWLEDGE

Progress = Callable[[int], None]


def run_ticket(assistant: Assistant, ticket: Ticket, templates: list[str]) -> dict[str, Any]:
    """One ticket, all its turns in one conversation; the row describes the reply to the last turn."""
    conversation = Conversation(customer_id=ticket.customer_id)
    started = time.perf_counter()
    reply: Reply | None = None
    last_ms = 0.0
    for turn in ticket.turns:
        turn_started = time.perf_counter()
        reply = assistant.respond(conversation, turn)
        last_ms = (time.perf_counter() - turn_started) * 1000
    if reply is None:  # the loader rejects a ticket without turns
        raise ValueError(f"ticket {ticket.id} has no turns")
    passages = [s.passage for s in reply.sources]
    grounded = None  # LLM replies need a judge model; see evals/README.md
    if reply.model_path == "offline" and reply.outcome in ("answer", "escalate") and passages:
        grounded = metrics.groundedness(reply.text, passages, templates)
    detected = assistant.detector.detect(reply.text).language if reply.text else reply.language
    declared_fallback = bool(reply.note) and ticket.language not in KNOWLEDGE and detected == "en"
    row = ResultRow.of(ticket, reply, latency_ms=last_ms, conversation_ms=(time.perf_counter() - started) * 1000,
                       groundedness=grounded, reply_language=detected,
                       language_match=detected == ticket.language or declared_fallback)
    return row.to_dict()


def run_dataset(assistant: Assistant, dataset: LoadedDataset, limit: int | None = None, workers: int = 1,
                progress: Progress | None = None) -> list[dict[str, Any]]:
    tickets = dataset.tickets[:limit] if limit else dataset.tickets
    templates = all_template_lines()
    if workers <= 1:
        rows = []
        for ticket in tickets:
            rows.append(run_ticket(assistant, ticket, templates))
            if progress:
                progress(1)
        return rows
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run_ticket, assistant, t, templates) for t in tickets]
        rows = []
        for future in futures:
            rows.append(future.result())
            if progress:
                progress(1)
    return rows


def dataset_metrics(rows: list[dict[str, Any]], dataset: LoadedDataset, seconds: float,
                    llm: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "dataset": dataset.name,
        "path": str(dataset.path),
        "llm": llm,
        "seconds": round(seconds, 2),
        "tickets_per_second": round(len(rows) / seconds, 2) if seconds else None,
        "skipped_lines": dataset.bad_lines,
        "unlabelled_rows": len(dataset.unlabelled),
        "overall": metrics.summary(rows),
        "judge": "skipped: no judge model configured (set BNPL_JUDGE_LLM); offline replies are checked "
                 "for groundedness extractively" if llm == "offline" else "skipped: no judge model configured",
    }
    out["per_language"] = {k: metrics.summary(v, with_ci=False)
                           for k, v in metrics.group_by(rows, lambda r: r["ticket_language"]).items()}
    out["per_topic"] = {k: metrics.summary(v, with_ci=False)
                        for k, v in metrics.group_by(rows, lambda r: r.get("expected_topic")).items()}
    if any("source" in r for r in rows):
        out["per_source"] = {k: metrics.summary(v, with_ci=False)
                             for k, v in metrics.group_by(rows, lambda r: r.get("source")).items()}
    return out


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def write_outputs(out_dir: Path, dataset: LoadedDataset, rows: list[dict[str, Any]],
                  summary: dict[str, Any]) -> Path:
    """``out_dir/<stem>/results.jsonl`` and ``metrics.json`` (NaN written as null)."""
    target = out_dir / dataset.name
    target.mkdir(parents=True, exist_ok=True)
    with (target / "results.jsonl").open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(_json_safe(row), ensure_ascii=False) + "\n")
    (target / "metrics.json").write_text(json.dumps(_json_safe(summary), ensure_ascii=False, indent=2),
                                         encoding="utf-8")
    return target
