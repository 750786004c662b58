"""The eval CLI end to end, and the quality floors asserted from the harness.

Floors are the levels this version reaches minus a small noise margin, so quality cannot slip back.
Targets that are not reached yet are reported in the README, never lowered here.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from typer.testing import CliRunner

from bnpl_assistant.cli import app
from bnpl_assistant.evals.dataset import load_dataset
from bnpl_assistant.evals.metrics import summary
from bnpl_assistant.evals.runner import dataset_metrics, run_dataset
from conftest import EXTERNAL, EXTERNAL_MISSING, REPO, Built

if TYPE_CHECKING:
    from bnpl_assistant.assistant import Assistant

EvalResults = dict[str, tuple[list[Any], dict[str, Any]]]

DEV = REPO / "evals" / "dev.jsonl"
SWITCH = REPO / "evals" / "switch.jsonl"
CONTRACT_FIELDS = {"id", "outcome", "topic", "retrieved_topics", "language", "reply", "sources", "latency_ms",
                   "expected_topic", "expected_outcome"}


def test_cli_end_to_end(built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BNPL_DATA_DIR", str(built[0].data_dir))
    scratch_root = tmp_path / "tmp"
    scratch_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch_root))  # where the scratch databases go
    small = tmp_path / "small.jsonl"
    lines = DEV.read_text(encoding="utf-8").splitlines()[:12]
    small.write_text("\n".join(lines) + "\nnot json\n", encoding="utf-8")
    runner = CliRunner()
    failed = runner.invoke(app, ["eval", "--dataset", str(small), "--out", str(tmp_path / "o")])
    assert failed.exit_code == 1 and "small.jsonl:13" in failed.output
    out = tmp_path / "out"
    ok = runner.invoke(app, ["eval", "--dataset", str(small), "--out", str(out), "--skip-bad"])
    assert ok.exit_code == 0, ok.output
    rows = [json.loads(x) for x in (out / "small" / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 12 and all(r.keys() >= CONTRACT_FIELDS for r in rows)
    metrics = json.loads((out / "small" / "metrics.json").read_text())
    assert metrics["overall"]["n"] == 12 and "per_language" in metrics and "per_topic" in metrics
    assert metrics["skipped_lines"] and ":13:" in metrics["skipped_lines"][0]
    report = (out / "report.md").read_text()
    assert "Verified resolution" in report and "20 worst failures" in report
    assert all((out / "small" / n).exists() for n in ("confusion.png", "topic_accuracy.png", "latency.png"))
    again = runner.invoke(app, ["eval", "--dataset", str(small), "--out", str(tmp_path / "again"),
                                "--skip-bad", "--baseline", str(out)])
    assert again.exit_code == 0 and "No headline metric moved" in (tmp_path / "again" / "report.md").read_text()
    assert list(scratch_root.iterdir()) == []  # no scratch database left behind, the failed run's included


def _run(assistant: Assistant, path: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    dataset = load_dataset(path, set(assistant.topics.ids))
    rows = run_dataset(assistant, dataset)
    return rows, dataset_metrics(rows, dataset, 1.0, "offline")


def test_dev_set_floors(eval_results: EvalResults) -> None:
    rows, metrics = eval_results["dev"]  # run once per session, shared with the README's quality check
    assert len(rows) >= 250
    for lang in ("en", "de"):
        lang_rows = [r for r in rows if r["ticket_language"] == lang]
        s = summary(lang_rows, with_ci=False)
        assert s["topic_accuracy_at_1"]["value"] >= 0.92, lang  # target 0.90
        assert s["outcome_accuracy"]["value"] >= 0.95, lang  # target 0.93
    # The four languages whose articles went live last: with 8 more native examples a topic
    # (knowledge/tickets/exemplars_native_more.jsonl) topic accuracy reached sv 0.889, fr 0.867, es 0.977, nl 0.911
    # (was 0.867, 0.822, 0.932, 0.867; target 0.90: met for es and nl); with the boundary examples
    # (exemplars_boundaries.jsonl) sv 0.889, fr 0.889, es 0.955, nl 0.911. Outcome 0.946-1.000 (target 0.93);
    # reply language 0.982-1.000 (target 0.98).
    for lang, topic_floor in (("sv", 0.86), ("fr", 0.86), ("es", 0.95), ("nl", 0.88)):
        lang_rows = [r for r in rows if r["ticket_language"] == lang]
        assert len(lang_rows) >= 40, lang
        s = summary(lang_rows, with_ci=False)
        assert s["topic_accuracy_at_1"]["value"] >= topic_floor, lang
        assert s["outcome_accuracy"]["value"] >= 0.94, lang
        assert s["language_match"] >= 0.98, lang
    overall = metrics["overall"]
    assert overall["false_refusal_rate"]["value"] <= 0.02
    # Off-topic and injection messages refused: reached 0.937 (74 of 79) with the gate examples in de, sv, fr, es,
    # nl, it and pl (was 0.899; 0.924 before the firm-domain rule).
    assert overall["refusal"]["recall"] >= 0.93
    assert overall["groundedness"] >= 0.99
    assert overall["language_match"] >= 0.95
    assert overall["escalation"]["recall"] >= 0.95
    # The reply carries the deciding fact (amount, days, place in the app): 284 tickets; reached 0.901 (target
    # 0.90: 256 of 284) once a confident topic outweighs a weak gate score (policy.gate_refuses).
    assert sum(1 for r in rows if r.get("expected_facts")) >= 250
    assert overall["facts_coverage"] >= 0.90
    # Verified resolution (right outcome, topic and every fact) of the tickets it should answer: reached 0.881
    # (target 0.85).
    assert overall["verified_resolution_answerable"]["value"] >= 0.85


@pytest.mark.skipif(not EXTERNAL.exists(), reason=EXTERNAL_MISSING)
def test_external_suite_floors(eval_results: EvalResults) -> None:
    metrics = eval_results["external"][1]
    overall = metrics["overall"]
    assert overall["n"] == 1301
    # Reached level minus a small margin, never lowered. Targets: topic 0.75 (reached: 0.824), false refusals
    # <= 0.03 (reached: 0.030, was 0.035 before the firm-domain rule), escalation recall 0.90 (reached: 0.921),
    # refusal recall 0.85 and no lower than before (it was 0.889 before the four new languages' classifiers, then
    # 0.875 = 260 of 297). That 0.875 was measured while the training data held exact copies of evaluation
    # messages (tests/test_training_data.py found 40 near-copies, e.g. the gate example "why is the sky blue" is an
    # external message); with those rewritten and nothing else changed it is 0.872 (259 of 297, measured
    # 2026-12-02), the honest level this floor now holds.
    assert overall["topic_accuracy_at_1"]["value"] >= 0.81
    assert overall["escalation"]["recall"] >= 0.91
    assert overall["refusal"]["recall"] >= 0.87
    assert overall["false_refusal_rate"]["value"] <= 0.03


def test_topic_switch_floors(assistant) -> None:  # type: ignore[no-untyped-def]
    rows, metrics = _run(assistant, SWITCH)
    assert len(rows) >= 100 and {r["ticket_language"] for r in rows} >= {"en", "de"}
    # Two-turn conversations whose second turn changes the subject (off-topic, a person, an escalation topic,
    # an injection, another topic) or really follows up. Target 0.95; reached 0.973.
    assert metrics["overall"]["outcome_accuracy"]["value"] >= 0.95
    follow_ups = [r for r in rows if r.get("switch") == "real-follow-up"]
    assert sum(r["outcome"] == r["expected_outcome"] for r in follow_ups) >= 0.9 * len(follow_ups)
