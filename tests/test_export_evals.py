"""Production failures become eval tickets: ``export-evals --flagged`` on a hand-built log with known answers,
the unlabelled rows ``eval`` counts and skips, and the export -> label -> eval round trip."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bnpl_assistant.cli import app
from bnpl_assistant.conversation import Conversation, Outcome, Reply
from bnpl_assistant.errors import DataError
from bnpl_assistant.evals.dataset import load_dataset
from bnpl_assistant.evals.export import HANDED_OFF, REOPENED, THUMBS_DOWN, export_flagged, parse_since
from bnpl_assistant.evals.runner import dataset_metrics, run_dataset
from bnpl_assistant.storage import open_database, session, transaction
from bnpl_assistant.support.convlog import ConversationLog
from bnpl_assistant.wiring import Components
from conftest import DatabaseAt

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def _reply(outcome: Outcome, topic: str | None, ticket: str | None = None, reason: str = "faq") -> Reply:
    return Reply(text=f"reply about {topic} (mail a.b@example.com)", outcome=outcome, topic=topic,
                 retrieved_topics=[topic] if topic else [], sources=[], language="en", confidence=0.7,
                 reason=reason, team="customer-care" if outcome == "escalate" else None, ticket_id=ticket)


def _log(db_path: Path | str) -> None:
    """Five conversations: three flagged in the window, one flagged before it, one never flagged."""
    database = open_database(db_path)
    old = ConversationLog(database, clock=Clock(NOW - timedelta(days=40)))
    first = old.log_turn(Conversation(id="old"), "Where is my refund?", _reply("answer", "refund-timing"))
    old.feedback(first, -1)
    log = ConversationLog(database, clock=Clock(NOW - timedelta(days=2)))
    log.log_turn(Conversation(id="a", customer_id="cust-001"), "How long does a refund to my card take?",
                 _reply("answer", "refund-timing"))
    down = log.log_turn(Conversation(id="a", customer_id="cust-001"), "and to my bank account? mail x@y.com",
                        _reply("answer", "refund-timing"))
    log.feedback(down, -1, "did not answer, call +49 30 5550 1234")
    log.log_turn(Conversation(id="a", customer_id="cust-001"), "thanks", _reply("answer", None))
    log.log_turn(Conversation(id="b"), "I want to talk to a person", _reply("escalate", None, "HND-000001",
                                                                               "human-requested"))
    log.log_turn(Conversation(id="c"), "My instalment was taken twice", _reply("escalate", "payment-failed",
                                                                                 "HND-000002", "topic"))
    log.log_turn(Conversation(id="d"), "What is the late fee?", _reply("answer", "late-fees"))
    with session(db_path) as conn, transaction(conn):
        conn.execute("INSERT INTO handoffs (ticket, created_at, conversation_id, language, reason, team, priority, "
                     "summary, transcript, status, reopened) VALUES ('HND-000002', ?, 'c', 'en', 'topic', "
                     "'customer-care', 4, '', '', 'open', 1)", (NOW.isoformat(),))


@pytest.mark.database
def test_flagged_conversations_become_unlabelled_tickets(tmp_path: Path, database_at: DatabaseAt) -> None:
    db_path = database_at("bnpl")
    _log(db_path)
    out = tmp_path / "flagged.jsonl"
    assert export_flagged(db_path, out, parse_since("30d", NOW)) == 3
    rows = {r["conversation_id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    assert set(rows) == {"a", "b", "c"}  # "old" is before the window, "d" was never flagged
    a = rows["a"]
    assert a["turns"] == ["How long does a refund to my card take?", "and to my bank account? mail [EMAIL]"]
    assert "message" not in a and a["id"] == "log-a-1" and a["customer_id"] == "cust-001"
    assert (a["flags"], a["suggested_outcome"], a["suggested_topic"]) == ([THUMBS_DOWN], "answer", "refund-timing")
    assert a["expected_outcome"] is None and a["expected_topic"] is None and a["expected_facts"] == []
    assert a["feedback_comment"] == "did not answer, call [PHONE]" and "[EMAIL]" in a["reply"]
    assert rows["b"]["message"] == "I want to talk to a person" and rows["b"]["flags"] == [HANDED_OFF]
    assert rows["b"]["reason"] == "human-requested" and "customer_id" not in rows["b"]
    assert rows["c"]["flags"] == [HANDED_OFF, REOPENED] and rows["c"]["ticket"] == "HND-000002"
    assert export_flagged(db_path, out, parse_since("60d", NOW)) == 4  # the older one too


def test_eval_counts_and_skips_unlabelled_rows(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    rows = [{"id": "x1", "language": "en", "message": "What is the late fee?", "expected_topic": "late-fees",
             "expected_outcome": "answer"},
            {"id": "x2", "language": "en", "message": "hi", "expected_topic": None, "expected_outcome": None},
            {"id": "x3", "language": "en", "message": "hm", "expected_topic": None, "expected_outcome": ""}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    dataset = load_dataset(path)
    assert [t.id for t in dataset.tickets] == ["x1"] and dataset.unlabelled == ["x2", "x3"]
    only_unlabelled = tmp_path / "unlabelled.jsonl"
    only_unlabelled.write_text(json.dumps(rows[1]) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="all 1 rows are unlabelled"):
        load_dataset(only_unlabelled)
    missing = tmp_path / "missing.jsonl"  # a row without the key at all is malformed, not unlabelled
    missing.write_text(json.dumps({"id": "y", "language": "en", "message": "m", "expected_topic": None}) + "\n")
    with pytest.raises(DataError, match="expected_outcome"):
        load_dataset(missing)


@pytest.mark.database
def test_export_label_eval_round_trip(tmp_path: Path, components: Callable[..., Components],
                                      database_at: DatabaseAt) -> None:
    db_path = database_at("bnpl")
    _log(db_path)
    out = tmp_path / "flagged.jsonl"
    export_flagged(db_path, out, parse_since("30d", NOW))
    labelled: list[dict[str, Any]] = []
    for row in map(json.loads, out.read_text(encoding="utf-8").splitlines()):
        if row["conversation_id"] == "a":  # a person labels two of the three
            row.update(expected_outcome="answer", expected_topic="refund-timing")
        elif row["conversation_id"] == "b":
            row.update(expected_outcome="escalate", expected_topic=None)
        labelled.append(row)
    out.write_text("".join(json.dumps(r) + "\n" for r in labelled), encoding="utf-8")
    assistant = components(log_turns=False).assistant
    dataset = load_dataset(out, set(assistant.topics.ids))
    assert len(dataset.tickets) == 2 and len(dataset.unlabelled) == 1
    results = run_dataset(assistant, dataset)
    by_id = {r["id"]: r for r in results}
    assert by_id["log-b-0"]["outcome"] == "escalate"  # a request for a person is handed over
    assert by_id["log-a-1"]["outcome"] == "answer" and by_id["log-a-1"]["topic"] == "refund-timing"
    summary = dataset_metrics(results, dataset, 1.0, "offline")
    assert summary["unlabelled_rows"] == 1 and summary["overall"]["n"] == 2


def test_cli_export_evals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BNPL_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    out = tmp_path / "flagged.jsonl"
    none_yet = runner.invoke(app, ["export-evals", "--flagged", "--out", str(out)])
    assert none_yet.exit_code == 1 and "no conversation log yet" in none_yet.output
    from bnpl_assistant.settings import Settings

    db_path = Settings().db_path
    db_path.parent.mkdir(parents=True, exist_ok=True)
    _log(db_path)
    result = runner.invoke(app, ["export-evals", "--flagged", "--since", "3650d", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 4 unlabelled tickets" in " ".join(result.output.split())
    assert len(out.read_text(encoding="utf-8").splitlines()) == 4
    unsaid = runner.invoke(app, ["export-evals", "--out", str(out)])
    assert unsaid.exit_code == 1 and "--flagged" in unsaid.output
    bad = runner.invoke(app, ["export-evals", "--flagged", "--since", "last week", "--out", str(out)])
    assert bad.exit_code == 1 and "30d" in bad.output and "Traceback" not in bad.output


def test_parse_since() -> None:
    assert parse_since("7d", NOW) == "2026-11-23T12:00:00.000+00:00"
    assert parse_since("12h", NOW) == "2026-11-30T00:00:00.000+00:00"
    assert parse_since("2w", NOW) == "2026-11-16T12:00:00.000+00:00"
    assert parse_since("2026-11-01", NOW) == "2026-11-01T00:00:00.000+00:00"
    with pytest.raises(DataError, match="neither a span"):
        parse_since("yesterday", NOW)
