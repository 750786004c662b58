"""Metric functions on hand-made rows with known answers, the bootstrap, and the dataset loader."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bnpl_assistant.errors import DataError
from bnpl_assistant.evals import metrics as m
from bnpl_assistant.evals.dataset import load_dataset


def row(outcome: str, expected: str, topic: str | None = None, expected_topic: str | None = None,
        ranked: list[str] | None = None, reply: str = "", facts: list[str] | None = None, **extra: object) -> dict:
    return {"id": "x", "outcome": outcome, "expected_outcome": expected, "topic": topic,
            "expected_topic": expected_topic, "retrieved_topics": ranked or ([topic] if topic else []),
            "reply": reply, "expected_facts": facts or [], "latency_ms": 10.0, **extra}


ROWS = [
    row("answer", "answer", "late-fees", "late-fees", ["late-fees", "fees-overview"], "It is 7 EUR.", ["7 EUR"]),
    row("answer", "answer", "fees-overview", "late-fees", ["fees-overview", "late-fees"], "Free."),
    row("escalate", "escalate", "complaint", "complaint"),
    row("refuse", "answer", None, "refund-timing", ["pay-early", "late-fees", "refund-timing"]),
    row("refuse", "refuse"),
    row("answer", "refuse", "late-fees", None),
]


def test_retrieval_metrics() -> None:
    assert m.topic_accuracy(ROWS) == pytest.approx(2 / 4)  # rows with an expected topic
    assert m.recall_at_k(ROWS, 3) == pytest.approx(4 / 4)
    assert m.recall_at_k(ROWS, 1) == pytest.approx(2 / 4)
    assert m.mrr(ROWS) == pytest.approx((1 + 0.5 + 1 + 1 / 3) / 4)


def test_decision_metrics() -> None:
    assert m.outcome_accuracy(ROWS) == pytest.approx(4 / 6)
    conf = m.confusion(ROWS)
    assert conf["answer"]["refuse"] == 1 and conf["refuse"]["answer"] == 1 and conf["answer"]["answer"] == 2
    refusal = m.precision_recall(ROWS, "refuse")
    assert refusal["precision"] == pytest.approx(1 / 2) and refusal["recall"] == pytest.approx(1 / 2)
    assert m.false_refusal_rate(ROWS) == pytest.approx(1 / 4)
    assert math.isnan(m.precision_recall(ROWS, "act")["precision"])


def test_resolution_is_strict() -> None:
    assert m.resolved(ROWS[0]) and not m.resolved(ROWS[1])  # wrong topic
    assert not m.resolved(row("answer", "answer", "late-fees", "late-fees", reply="no figure", facts=["7 EUR"]))
    assert m.wrong_answer(ROWS[1]) and m.wrong_answer(ROWS[5]) and not m.wrong_answer(ROWS[4])
    assert not m.resolved(row("act", "act", "payment-schedule", "payment-schedule", tool="x",
                              expected_tool="next_payment"))
    assert m.facts_coverage(ROWS) == 1.0


def test_verified_resolution_of_answerable_tickets_leaves_hand_offs_and_refusals_out() -> None:
    rows = [row("answer", "answer", "late-fees", "late-fees", reply="It is 7 EUR.", facts=["7 EUR"]),
            row("answer", "answer", "late-fees", "late-fees", reply="no figure", facts=["7 EUR"]),
            row("escalate", "escalate", "complaint", "complaint"),
            row("refuse", "refuse"),
            row("refuse", "answer", None, "late-fees")]  # a false refusal counts against it
    summary = m.summary(rows, with_ci=False)
    assert summary["verified_resolution_rate"]["value"] == pytest.approx(1 / 5)
    assert summary["verified_resolution_answerable"]["value"] == pytest.approx(1 / 3)
    assert summary["verified_resolution_answerable"]["n"] == 3
    assert math.isnan(m.summary([row("refuse", "refuse")], with_ci=False)["verified_resolution_answerable"]["value"])


def test_empty_sets_give_nan_not_errors() -> None:
    assert math.isnan(m.topic_accuracy([]))
    assert math.isnan(m.outcome_accuracy([]))
    assert math.isnan(m.mrr([row("refuse", "refuse")]))
    summary = m.summary([])
    assert summary["n"] == 0 and math.isnan(summary["outcome_accuracy"]["value"])
    assert math.isnan(summary["latency_ms"]["p50"])


def test_groundedness() -> None:
    passages = ["A late fee of 7 EUR applies. It is charged once per instalment."]
    assert m.groundedness("A late fee of 7 EUR applies.", passages, []) == 1.0
    assert m.groundedness("A late fee of 7 EUR applies. We waive all fees.", passages, []) == 0.5
    assert m.groundedness("Ticket HND-1 opened. A late fee of 7 EUR applies.", passages,
                          ["Ticket {ticket} opened."]) == 1.0


def test_bootstrap_is_deterministic_and_brackets_the_value() -> None:
    a = m.bootstrap(ROWS * 5, m.outcome_accuracy)
    b = m.bootstrap(ROWS * 5, m.outcome_accuracy)
    assert a == b
    assert a["low"] <= a["value"] <= a["high"] and a["low"] < a["high"]
    assert math.isnan(m.bootstrap([], m.outcome_accuracy)["low"])


def test_dataset_errors_name_file_and_line(tmp_path: Path) -> None:
    good = {"id": "a", "language": "en", "message": "hi", "expected_topic": None, "expected_outcome": "refuse"}
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(good) + "\n{broken\n" + json.dumps({**good, "id": "b", "expected_outcome": "x"})
                    + "\n")
    with pytest.raises(DataError, match=r"d\.jsonl:2: invalid JSON"):
        load_dataset(path)
    loaded = load_dataset(path, skip_bad=True)
    assert [t.id for t in loaded.tickets] == ["a"]
    assert len(loaded.bad_lines) == 2 and ":3: expected_outcome" in loaded.bad_lines[1]
    path.write_text(json.dumps({**good, "expected_topic": "nope"}) + "\n")
    with pytest.raises(DataError, match="unknown expected_topic"):
        load_dataset(path, {"late-fees"})
    path.write_text("")
    with pytest.raises(DataError, match="no tickets"):
        load_dataset(path)
