"""Outcome analytics on a hand-built log with known answers: every rate of docs/metrics.md, the groups, the
deflection figures and the ``report`` command's files."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bnpl_assistant.analytics.outcomes import conversation_outcomes, reason_category, summarise
from bnpl_assistant.analytics.report import build, write
from bnpl_assistant.cli import app
from bnpl_assistant.conversation import Conversation, Outcome, Reply
from bnpl_assistant.errors import DataError
from bnpl_assistant.storage import dispose, open_database, read_only, session, transaction
from bnpl_assistant.storage.outcomes import read_outcome_log
from bnpl_assistant.support.convlog import ConversationLog
from conftest import DatabaseAt

pytestmark = pytest.mark.database  # every test here takes its database from `database_at`

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _reply(outcome: Outcome, topic: str | None, reason: str = "faq", ticket: str | None = None) -> Reply:
    return Reply(text="a reply", outcome=outcome, topic=topic, retrieved_topics=[], sources=[], language="en",
                 confidence=0.8, reason=reason, timings_ms={"total": 120.0}, ticket_id=ticket,
                 team="customer-care" if outcome == "escalate" else None)


def _turn(db: Path | str, at: datetime, conversation: str, customer: str | None, reply: Reply,
          feedback: int | None = None) -> None:
    log = ConversationLog(open_database(db), clock=lambda: at)
    turn = log.log_turn(Conversation(id=conversation, customer_id=customer), "a message", reply)
    if feedback:
        log.feedback(turn, feedback)


def _insert(db: Path | str, sql: str, args: tuple[object, ...]) -> None:
    with session(db) as conn, transaction(conn):
        conn.execute(sql, args)


def _ticket(db: Path | str, ticket: str, conversation: str, created: datetime, closed: datetime | None,
            reopened: int, reason: str) -> None:
    _insert(db, "INSERT INTO handoffs (ticket, created_at, conversation_id, language, reason, team, priority, "
                "summary, transcript, status, closed_at, reopened) "
                "VALUES (?, ?, ?, 'en', ?, 'customer-care', 4, '', '', ?, ?, ?)",
            (ticket, created.isoformat(), conversation, reason, "closed" if closed else "open",
             closed.isoformat() if closed else None, reopened))


def _rating(db: Path | str, conversation: str, score: int, by: str) -> None:
    _insert(db, "INSERT INTO ratings (conversation_id, at, score, resolved_by) VALUES (?, ?, ?, ?)",
            (conversation, NOW.isoformat(), score, by))


@pytest.fixture
def db(database_at: DatabaseAt) -> Path | str:
    """Seven conversations whose outcomes are known (see each line)."""
    path = database_at("bnpl")
    d20, d17, d10, d1 = (NOW - timedelta(days=n) for n in (20, 17, 10, 1))
    # c1: answered alone, but the same customer came back on the same topic 3 days later: reopened
    _turn(path, d20, "c1", "cust-1", _reply("answer", "refund-timing"))
    # c2: answered, then a thumbs-down: not resolved
    _turn(path, d20 + timedelta(minutes=1), "c2", "cust-2", _reply("answer", "late-fees"), feedback=-1)
    # c3: asked for a person; an agent answered and closed the ticket 30 minutes after the start; rated 5
    _turn(path, d10, "c3", None, _reply("escalate", None, "customer-asked-for-human", "HND-000001"))
    _ticket(path, "HND-000001", "c3", d10, d10 + timedelta(minutes=30), 0, "customer-asked-for-human")
    _insert(path, "INSERT INTO messages (conversation_id, at, role, author, text) "
                  "VALUES ('c3', ?, 'agent', 'kim', 'hi')",
            ((d10 + timedelta(minutes=5)).isoformat(),))
    _rating(path, "c3", 5, "agent")
    # c4: an escalation topic; the ticket was reopened; rated 2
    _turn(path, d10 + timedelta(minutes=1), "c4", None, _reply("escalate", "fraud-report", "topic:fraud-report",
                                                                  "HND-000002"))
    _ticket(path, "HND-000002", "c4", d10, None, 1, "topic:fraud-report")
    _rating(path, "c4", 2, "agent")
    # c5: the customer of c1, back on the same topic, answered alone, two turns 2 minutes apart; rated 4
    _turn(path, d17, "c5", "cust-1", _reply("answer", "refund-timing"))
    _turn(path, d17 + timedelta(minutes=2), "c5", "cust-1", _reply("answer", "refund-timing"))
    _rating(path, "c5", 4, "assistant")
    # c6: answered alone yesterday: its reopen window has not passed
    _turn(path, d1, "c6", None, _reply("answer", "late-fees"))
    # c7: refused (off-topic): the assistant took part but answered nothing
    _turn(path, d10 + timedelta(minutes=2), "c7", None, _reply("refuse", None, "offtopic"))
    return path


def _summary(db: Path | str, since: str | None = None) -> dict[str, object]:
    with read_only(db) as conn:
        log = read_outcome_log(conn, since)
    return summarise(conversation_outcomes(log, NOW), log.ratings)


def test_every_rate_on_a_log_with_known_answers(db: Path | str) -> None:
    s = _summary(db)
    assert s["conversations"] == 7

    def share(name: str) -> tuple[object, object]:
        figure = s[name]
        assert isinstance(figure, dict)
        return figure["value"], figure["n"]

    assert share("coverage") == (1.0, 7)
    assert share("autonomous_resolution") == (pytest.approx(3 / 7), 7)  # c1, c5, c6
    assert share("durable_resolution") == (pytest.approx(1 / 6), 6)  # only c5; c6's window is still open
    assert share("handoff_rate") == (pytest.approx(2 / 7), 7)
    assert s["handoff_reasons"] == {"asked for a person": {"count": 1, "share_of_handoffs": 0.5},
                                    "escalation topic": {"count": 1, "share_of_handoffs": 0.5}}
    assert share("reopen_rate") == (pytest.approx(2 / 5), 5)  # c1 and c4 of c1, c3, c4, c5, c6
    assert share("csat_assistant") == (1.0, 1)
    assert share("csat_agent") == (0.5, 2)
    assert s["csat_agent"]["mean_score"] == 3.5  # type: ignore[index]
    # c1 and c6: one turn (its 120 ms); c5: 2 minutes between its turns plus the last reply's 120 ms
    assert s["median_minutes_to_resolution_assistant"] == pytest.approx(0.002)
    assert s["median_minutes_to_resolution_agent"] == pytest.approx(30.0)


def test_window_groups_and_reasons(db: Path | str) -> None:
    recent = _summary(db, (NOW - timedelta(days=12)).isoformat())
    assert recent["conversations"] == 4  # c3, c4, c6, c7
    report = build(db, None, None, NOW)
    assert list(report["by_day"]) == ["2026-11-10", "2026-11-13", "2026-11-20", "2026-11-29"]
    assert report["by_day"]["2026-11-10"]["conversations"] == 2
    assert report["by_topic"]["refund-timing"]["autonomous_resolution"]["value"] == 1.0
    assert report["by_topic"]["late-fees"]["autonomous_resolution"]["value"] == 0.5
    assert report["by_language"]["en"]["conversations"] == 7
    assert [reason_category(r) for r in ("topic:x", "staff-pretext", "low-confidence", "store-unavailable",
                                         "repeated-failure", "customer-pressed-button", "???")] == [
        "escalation topic", "escalation topic", "low confidence", "store unavailable", "repeated failure",
        "asked for a person", "other"]


def test_deflection_figures_are_banded_by_the_logs_interval(db: Path | str) -> None:
    report = build(db, None, None, NOW, monthly_contacts=50_000)
    d = report["deflection"]
    assert d["basis"] == "durable_resolution" and d["monthly_contacts"] == 50_000
    assert d["resolution"]["value"] == pytest.approx(1 / 6)
    for band in (d["fte_deflected"], d["agent_hours_saved_per_month"]):
        assert band["low"] <= band["value"] <= band["high"] and band["high"] > 0
    more = build(db, None, None, NOW, monthly_contacts=100_000)["deflection"]
    assert more["fte_deflected"]["value"] > d["fte_deflected"]["value"]


def test_report_files(db: Path | str, tmp_path: Path) -> None:
    written = write(build(db, None, None, NOW), tmp_path / "out")
    names = sorted(p.name for p in written)
    assert names == ["by_day.png", "by_language.png", "by_topic.png", "csat.png", "report.json", "report.md"]
    for png in (tmp_path / "out").glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000
    text = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "autonomous resolution | 42.9%" in text and "![by_day.png](by_day.png)" in text
    assert json.loads((tmp_path / "out" / "report.json").read_text())["overall"]["conversations"] == 7


def test_report_command(db: Path | str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BNPL_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    empty = runner.invoke(app, ["report", "--out", str(tmp_path / "r0")])
    assert empty.exit_code == 1 and "no conversation log yet" in empty.output
    from bnpl_assistant.settings import Settings

    target = Settings().db_path
    target.parent.mkdir(parents=True, exist_ok=True)
    if not isinstance(db, Path):
        pytest.skip("copies a SQLite file into the data directory")
    dispose(db)  # closes the pooled connections: the last close folds the write-ahead log into the file copied
    target.write_bytes(db.read_bytes())
    result = runner.invoke(app, ["report", "--since", "3650d", "--out", str(tmp_path / "r1")])
    assert result.exit_code == 0, result.output
    assert "7 conversations: autonomous resolution 42.9%" in " ".join(result.output.split())
    assert (tmp_path / "r1" / "by_topic.png").is_file()
    none = runner.invoke(app, ["report", "--since", "2099-01-01", "--out", str(tmp_path / "r2")])
    assert none.exit_code == 1 and "no conversation started in the window" in " ".join(none.output.split())


def test_build_without_a_log(database_at: DatabaseAt) -> None:
    with pytest.raises(DataError, match="no conversation log yet"):
        build(database_at("none"), None, None, NOW)


def test_calibration_against_an_offline_eval(db: Path | str, tmp_path: Path) -> None:
    """Predicted (the eval's verified resolution per topic) beside observed (the log); disjoint intervals are
    reported, overlapping ones are not."""
    per_topic = {"refund-timing": {"n": 50, "verified_resolution_rate": {"value": 0.9, "n": 50}},
                 "late-fees": {"n": 100, "verified_resolution_rate": {"value": 0.95, "n": 100}},
                 "card-declined": {"n": 10, "verified_resolution_rate": {"value": 0.5, "n": 10}}}
    (tmp_path / "eval" / "dev").mkdir(parents=True)
    (tmp_path / "eval" / "dev" / "metrics.json").write_text(json.dumps({"per_topic": per_topic}))
    report = build(db, None, None, NOW, eval_dir=tmp_path / "eval")
    rows = {r["topic"]: r for r in report["calibration"]["rows"]}
    assert set(rows) == {"refund-timing", "late-fees"}  # card-declined has no conversation in the log
    assert rows["refund-timing"]["observed"]["value"] == 0.5 and not rows["refund-timing"]["disagree"]
    assert rows["late-fees"]["observed"]["value"] == 0.0 and rows["late-fees"]["observed"]["n"] == 1
    assert rows["late-fees"]["disagree"] and rows["late-fees"]["direction"] == "optimistic"
    written = write(report, tmp_path / "out")
    assert tmp_path / "out" / "calibration.png" in written
    text = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "disagrees with the log beyond both intervals for: late-fees" in text
    assert build(db, None, None, NOW, eval_dir=tmp_path / "no-eval")["calibration"] is None
