"""The conversation log: redacted turns, feedback, and the dashboard numbers, on a real SQLite file."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from bnpl_assistant.conversation import Conversation, Outcome, Reply, Source
from bnpl_assistant.deflection import resolution_from_log
from bnpl_assistant.errors import DataError
from bnpl_assistant.storage import open_database, session
from bnpl_assistant.support.convlog import ConversationLog
from conftest import DatabaseAt


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def reply(outcome: Outcome = "answer", topic: str | None = "refund-timing", latency: float | None = 100.0,
          reason: str = "faq", text: str = "Refunds reach your card in 3-5 business days.") -> Reply:
    return Reply(text=text, outcome=outcome, topic=topic, retrieved_topics=[topic] if topic else [],
                 sources=[Source("refund-to-card", "Refund to card", "en", "passage")] if outcome == "answer"
                 else [], language="en", confidence=0.8, reason=reason,
                 timings_ms={"total": latency} if latency is not None else {},
                 team="fraud" if outcome == "escalate" else None,
                 ticket_id="HND-000001" if outcome == "escalate" else None)


@pytest.fixture
def log(database_at: DatabaseAt) -> ConversationLog:
    return ConversationLog(open_database(database_at("bnpl")), clock=Clock())


def test_log_turn_redacts_and_stores_every_field(log: ConversationLog) -> None:
    conversation = Conversation(id="conv-1", customer_id="cust-004")
    turn_id = log.log_turn(conversation, "Refund to 4111 1111 1111 1111 or DE89 3704 0044 0532 0130 00? "
                                         "Mail me: a.b@example.com, +49 30 5550 1234", reply())
    row = log.get(turn_id)
    assert row.message == "Refund to [CARD] or [IBAN]? Mail me: [EMAIL], [PHONE]"
    assert (row.conversation_id, row.turn_index, row.customer_id, row.language) == ("conv-1", 0, "cust-004", "en")
    assert (row.outcome, row.topic, row.model_path, row.latency_ms, row.reason) == \
        ("answer", "refund-timing", "offline", 100.0, "faq")
    assert row.sources == [{"id": "refund-to-card", "title": "Refund to card", "language": "en"}]
    assert row.reply.startswith("Refunds reach") and row.feedback is None
    assert row.created_at == "2026-11-20T09:00:01.000+00:00"
    second = log.log_turn(conversation, "thanks", reply())
    assert log.get(second).turn_index == 1


def test_signed_out_turns_have_no_customer(log: ConversationLog) -> None:
    turn_id = log.log_turn(Conversation(id="anon"), "hello", reply(outcome="refuse", topic=None, reason="greeting"))
    assert log.get(turn_id).customer_id is None and log.get(turn_id).topic is None


def test_feedback(log: ConversationLog) -> None:
    turn_id = log.log_turn(Conversation(id="c"), "where is my refund", reply())
    log.feedback(turn_id, -1, "Wrong! call me on 0151 2345678")
    row = log.get(turn_id)
    assert row.feedback == -1 and row.feedback_comment == "Wrong! call me on [PHONE]"
    log.feedback(turn_id, 1)
    assert log.get(turn_id).feedback == 1 and log.get(turn_id).feedback_comment is None
    with pytest.raises(DataError, match=r"1 .*or -1"):
        log.feedback(turn_id, 0)
    with pytest.raises(DataError, match="no logged turn"):
        log.feedback(999, 1)


def test_stats_for_the_dashboard(log: ConversationLog) -> None:
    a, b, c = Conversation(id="a"), Conversation(id="b"), Conversation(id="c")
    t1 = log.log_turn(a, "q1", reply(latency=10.0))
    log.log_turn(a, "q2", reply(latency=20.0))
    t3 = log.log_turn(b, "q3", reply(latency=30.0))
    log.log_turn(b, "I never made this purchase", reply(outcome="escalate", topic="unrecognized-purchase",
                                                        reason="topic:unrecognized-purchase", latency=40.0))
    log.log_turn(c, "talk to a person", reply(outcome="escalate", topic=None, reason="customer-asked-for-human",
                                              latency=None))
    log.feedback(t1, 1)
    log.feedback(t3, -1)
    stats = log.stats()
    assert (stats.conversations, stats.turns, stats.contained) == (3, 5, 1)
    assert stats.containment == pytest.approx(1 / 3)
    assert stats.outcomes == {"answer": 3, "escalate": 2}
    assert stats.escalations_by_reason == {"customer-asked-for-human": 1, "topic:unrecognized-purchase": 1}
    assert (stats.rated, stats.thumbs_up, stats.thumbs_down) == (2, 1, 1)
    # One definition of resolution (storage.ResolutionCounts, shared with `deflection --log`): contained and
    # no thumbs-down. Only "a" is: "b" and "c" escalated. (It was 0.5 = thumbs up of rated turns, the
    # share now shown as "Feedback" next to it.)
    assert stats.resolution == pytest.approx(1 / 3)
    assert stats.latency_p50_ms == pytest.approx(25.0) and stats.latency_p95_ms == pytest.approx(38.5)
    assert stats.topics["refund-timing"] == 3


@pytest.mark.database
def test_stats_since_and_empty(log: ConversationLog, database_at: DatabaseAt) -> None:
    empty = ConversationLog(open_database(database_at("other"))).stats()
    assert (empty.conversations, empty.containment, empty.resolution, empty.latency_p50_ms) == (0, None, None, None)
    log.log_turn(Conversation(id="old"), "q", reply())
    log.log_turn(Conversation(id="new"), "q", reply())
    assert log.stats(since="2026-11-20T09:00:02").conversations == 1
    assert [t.conversation_id for t in log.iter_turns()] == ["old", "new"]
    assert [t.conversation_id for t in log.iter_turns(since="2026-11-20T09:00:02")] == ["new"]


@pytest.mark.database
def test_log_is_readable_while_writing(database_at: DatabaseAt) -> None:
    path = database_at("bnpl")
    writer = ConversationLog(open_database(path))
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(20):
                writer.log_turn(Conversation(id=f"w{n}"), f"message {i}", reply())
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    reader = ConversationLog(open_database(path))
    while any(t.is_alive() for t in threads):
        reader.stats()
    for t in threads:
        t.join()
    assert errors == [] and reader.stats().turns == 60
    with session(path) as conn:
        indexes = conn.execute("SELECT conversation_id, MAX(turn_index) FROM turns GROUP BY 1").fetchall()
    assert {tuple(r) for r in indexes} == {("w0", 19), ("w1", 19), ("w2", 19)}


def test_dashboard_and_deflection_share_one_resolution(log: ConversationLog) -> None:
    cases: list[tuple[str, list[Outcome], int | None]] = [
        ("resolved", ["answer", "answer"], None), ("rated-up", ["answer"], 1),
        ("rated-down", ["answer"], -1), ("escalated", ["answer", "escalate"], 1)]
    for conversation, outcomes, feedback in cases:
        ids = [log.log_turn(Conversation(id=conversation), "q", reply(outcome=o)) for o in outcomes]
        if feedback is not None:
            log.feedback(ids[0], feedback)
    stats = log.stats()
    from_log = resolution_from_log(log.database.target)
    assert (stats.resolution, stats.containment) == (0.5, 0.75)
    assert (from_log.value, from_log.containment, from_log.n) == (stats.resolution, stats.containment, 4)
