"""The human-readable report (Markdown + PNG plots) and the regression check against a baseline run."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bnpl_assistant.evals import metrics

HEADLINE = [
    ("topic_accuracy_at_1", "Topic accuracy@1"),
    ("outcome_accuracy", "Outcome accuracy"),
    ("false_refusal_rate", "False refusals (in-scope)"),
    ("containment_rate", "Containment (not handed off)"),
    ("verified_resolution_rate", "Verified resolution (strict)"),
    ("verified_resolution_answerable", "Verified resolution of answerable tickets"),
    ("wrong_answer_rate", "Wrong answers"),
]


def fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NaN"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def ci_cell(m: Any) -> str:
    if isinstance(m, dict) and "value" in m:
        if m.get("low") is None or (isinstance(m.get("low"), float) and math.isnan(m["low"])):
            return fmt(m["value"])
        return f"{fmt(m['value'])} [{fmt(m['low'])}, {fmt(m['high'])}]"
    return fmt(m)


def value_of(m: Any) -> float:
    if isinstance(m, dict):
        v = m.get("value")
        return float("nan") if v is None else float(v)
    return float("nan") if m is None else float(m)


def headline_rows(overall: dict[str, Any]) -> list[tuple[str, str]]:
    rows = [(label, ci_cell(overall[key])) for key, label in HEADLINE]
    rows += [
        ("Topic recall@3", fmt(overall["topic_recall_at_3"])),
        ("Topic MRR", fmt(overall["topic_mrr"])),
        ("Escalation precision / recall", f"{fmt(overall['escalation']['precision'])} / "
                                          f"{fmt(overall['escalation']['recall'])}"),
        ("Refusal precision / recall", f"{fmt(overall['refusal']['precision'])} / "
                                       f"{fmt(overall['refusal']['recall'])}"),
        ("Facts coverage", fmt(overall["facts_coverage"])),
        ("Groundedness (offline, extractive)", fmt(overall["groundedness"])),
        ("Language match", fmt(overall["language_match"])),
        ("Tool accuracy", fmt(overall["tool_accuracy"])),
        ("Latency p50 / p95 / max (ms)", " / ".join(fmt(overall["latency_ms"][k]) for k in ("p50", "p95", "max"))),
    ]
    return rows


def _failure_rank(row: dict[str, Any]) -> tuple[int, float]:
    if metrics.wrong_answer(row):
        return (0, -row.get("confidence", 0.0))
    if row["expected_outcome"] == "escalate" and row["outcome"] != "escalate":
        return (1, -row.get("confidence", 0.0))
    if row["outcome"] == "refuse" and row["expected_outcome"] != "refuse":
        return (2, -row.get("confidence", 0.0))
    if row["outcome"] != row["expected_outcome"] or (not metrics.topic_at_1(row) and row.get("expected_topic")):
        return (3, -row.get("confidence", 0.0))
    return (9, 0.0)


def worst_failures(rows: list[dict[str, Any]], n: int = 20) -> list[dict[str, Any]]:
    failing = [r for r in rows if _failure_rank(r)[0] < 9]
    return sorted(failing, key=lambda r: (*_failure_rank(r), r["id"]))[:n]


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def plots(target: Path, summary: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    conf = summary["overall"]["confusion"]
    labels = list(conf)
    fig, ax = plt.subplots(figsize=(4.8, 4))
    grid = [[conf[e][a] for a in labels] for e in labels]
    ax.imshow(grid, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("assistant did")
    ax.set_ylabel("expected")
    for i, row in enumerate(grid):
        for j, v in enumerate(row):
            ax.text(j, i, str(v), ha="center", va="center")
    ax.set_title("Outcome confusion")
    fig.tight_layout()
    fig.savefig(target / "confusion.png", dpi=90)
    plt.close(fig)
    names.append("confusion.png")

    per_topic = summary.get("per_topic", {})
    if per_topic:
        items = sorted(per_topic.items(), key=lambda kv: value_of(kv[1]["topic_accuracy_at_1"]))
        fig, ax = plt.subplots(figsize=(6, max(3, 0.22 * len(items))))
        ax.barh([k for k, _ in items], [value_of(v["topic_accuracy_at_1"]) for _, v in items], color="#4a7")
        ax.set_xlim(0, 1)
        ax.set_xlabel("topic accuracy@1")
        ax.tick_params(axis="y", labelsize=7)
        fig.tight_layout()
        fig.savefig(target / "topic_accuracy.png", dpi=90)
        plt.close(fig)
        names.append("topic_accuracy.png")

    fig, ax = plt.subplots(figsize=(5, 3))
    ax.hist([r["latency_ms"] for r in rows], bins=30, color="#47a")
    ax.set_xlabel("latency per ticket (ms)")
    ax.set_ylabel("tickets")
    fig.tight_layout()
    fig.savefig(target / "latency.png", dpi=90)
    plt.close(fig)
    names.append("latency.png")
    return names


def dataset_section(target: Path, summary: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    overall = summary["overall"]
    parts = [f"## {summary['dataset']} ({overall['n']} tickets, {summary['seconds']} s, "
             f"{summary['tickets_per_second']} tickets/s, model: {summary['llm']})"]
    parts.append(_md_table(["metric", "value [95% CI]"], [list(r) for r in headline_rows(overall)]))
    if summary.get("unlabelled_rows"):
        parts.append(f"Skipped {summary['unlabelled_rows']} unlabelled rows (expected_outcome empty).")
    if summary.get("skipped_lines"):
        parts.append(f"Skipped {len(summary['skipped_lines'])} bad lines:\n" +
                     "\n".join(f"- {b}" for b in summary["skipped_lines"]))
    lang_rows = [[k, str(v["n"]), fmt(value_of(v["topic_accuracy_at_1"])), fmt(value_of(v["outcome_accuracy"])),
                  fmt(value_of(v["verified_resolution_rate"])), fmt(value_of(v["false_refusal_rate"]))]
                 for k, v in summary["per_language"].items()]
    parts.append("### Per language\n" + _md_table(
        ["language", "n", "topic@1", "outcome acc", "resolution", "false refusals"], lang_rows))
    if summary.get("per_source"):
        src_rows = [[k, str(v["n"]), fmt(value_of(v["topic_accuracy_at_1"])), fmt(value_of(v["outcome_accuracy"]))]
                    for k, v in summary["per_source"].items()]
        parts.append("### Per source\n" + _md_table(["source", "n", "topic@1", "outcome acc"], src_rows))
    topic_rows = [[k, str(v["n"]), fmt(value_of(v["topic_accuracy_at_1"])), fmt(value_of(v["outcome_accuracy"]))]
                  for k, v in summary["per_topic"].items()]
    parts.append("### Per topic\n" + _md_table(["topic", "n", "topic@1", "outcome acc"], topic_rows))
    fails = [[r["id"], r["message"][:120], f"{r['expected_outcome']}/{r.get('expected_topic')}",
              f"{r['outcome']}/{r.get('topic')}", (r.get("reply") or "")[:160]] for r in worst_failures(rows)]
    parts.append("### 20 worst failures (wrong answers first)\n" + _md_table(
        ["id", "message", "expected", "got", "reply"], fails))
    images = plots(target, summary, rows)
    parts.append("\n".join(f"![{n}]({summary['dataset']}/{n})" for n in images))
    return "\n\n".join(parts)


def write_report(out_dir: Path, sections: list[str], regressions: list[str] | None = None) -> Path:
    text = ["# Evaluation report", "Metrics are defined in evals/README.md. Intervals are 95% bootstrap "
            "intervals (1,000 resamples, fixed seed)."]
    if regressions is not None:
        text.append("## Against the baseline\n" + ("\n".join(f"- {r}" for r in regressions) if regressions
                                                    else "No headline metric moved beyond its interval."))
    text += sections
    path = out_dir / "report.md"
    path.write_text("\n\n".join(text) + "\n", encoding="utf-8")
    return path


def compare(current: dict[str, Any], baseline_dir: Path, dataset: str) -> list[str]:
    """Headline metrics of ``current`` that moved beyond the baseline's confidence interval."""
    path = baseline_dir / dataset / "metrics.json"
    if not path.exists():
        return [f"{dataset}: no baseline at {path}"]
    base = json.loads(path.read_text(encoding="utf-8"))["overall"]
    moved = []
    for key, label in HEADLINE:
        b, c = base.get(key) or {}, current["overall"][key]
        low, high, now = b.get("low"), b.get("high"), value_of(c)
        if low is None or high is None or math.isnan(now):
            continue
        if now < low or now > high:
            direction = "up" if now > high else "down"
            moved.append(f"{dataset}: {label} moved {direction}: {fmt(b.get('value'))} -> {fmt(now)} "
                         f"(baseline interval [{fmt(low)}, {fmt(high)}])")
    return moved
