"""Live hand-off: owners, messages, claims, ratings and reopening on a real SQLite file (support.live), the
desk with the real assistant, and the ``handoffs`` CLI."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bnpl_assistant.act.state import PendingAction
from bnpl_assistant.cli import app
from bnpl_assistant.conversation import Conversation, Reply, Turn
from bnpl_assistant.storage import open_database
from bnpl_assistant.support.desk import LiveTurn
from bnpl_assistant.support.handoffs import HandoffError, HandoffStore
from bnpl_assistant.support.hours import SupportHours
from bnpl_assistant.support.live import ASSISTANT, CLOSED, QUEUED, LiveChat
from bnpl_assistant.wiring import Components
from conftest import DatabaseAt

TUESDAY_NOON = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)  # 12:00 in Berlin: people answer
SUNDAY = datetime(2026, 12, 6, 11, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _stores(path: Path | str, clock: Clock) -> LiveChat:
    database = open_database(path)
    return LiveChat(database, HandoffStore(database, clock=clock), SupportHours.parse(), 6.0, clock=clock)


def _handed_over(live: LiveChat, customer: str | None = "cust-001", topic: str | None = "refund-timing",
                 text: str = "where is my refund?") -> tuple[Conversation, str]:
    conversation = Conversation(customer_id=customer, turns=[Turn("customer", text, "en")])
    request = Reply(text="", outcome="escalate", topic=topic, retrieved_topics=[], sources=[], language="en",
                    confidence=1.0, reason="customer-pressed-button", team="customer-care")
    ticket = live.handoffs.open_ticket(conversation, request, text)
    live.queue(conversation, ticket)
    return conversation, ticket


@pytest.fixture
def clock() -> Clock:
    return Clock(TUESDAY_NOON)


@pytest.fixture
def live(database_at: DatabaseAt, clock: Clock) -> LiveChat:
    return _stores(database_at("live"), clock)


def test_a_handed_over_conversation_goes_to_the_agent_and_back(live: LiveChat) -> None:
    conversation, ticket = _handed_over(live)
    assert live.owner(conversation.id) == QUEUED
    notice = live.messages(conversation.id)[-1]
    assert notice.role == "system" and "number 1 in the queue" in notice.text and "6 minutes" in notice.text
    live.customer_writes(conversation, "it was 49.90 EUR")
    sent = live.reply(ticket, "anna", "I can see the refund, it left us yesterday.")
    assert live.owner(conversation.id) == "agent:anna" and live.handoffs.get(ticket).agent == "anna"
    live.customer_writes(conversation, "thanks!")
    live.release(ticket)
    assert live.owner(conversation.id) == ASSISTANT
    assert live.handoffs.get(ticket).close_reason == "returned to the assistant"
    roles = [(m.role, m.author) for m in live.messages(conversation.id)]
    assert roles == [("system", None), ("customer", None), ("agent", "anna"), ("customer", None), ("system", None)]
    assert next(m.id for m in live.messages(conversation.id, after=sent.id)) > sent.id
    assert [t.text for t in live.load(conversation.id).turns if t.role == "customer"] == [  # type: ignore[union-attr]
        "where is my refund?", "it was 49.90 EUR", "thanks!"]


def test_two_agents_claiming_at_once_exactly_one_wins(live: LiveChat) -> None:
    _, ticket = _handed_over(live)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def claim(agent: str) -> None:
        barrier.wait()
        try:
            live.claim(ticket, agent)
            outcomes.append(f"won:{agent}")
        except HandoffError:
            outcomes.append(f"lost:{agent}")

    threads = [threading.Thread(target=claim, args=(a,)) for a in ("anna", "ben")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o.split(":")[0] for o in outcomes) == ["lost", "won"]
    winner = next(o.split(":")[1] for o in outcomes if o.startswith("won"))
    assert live.handoffs.get(ticket).agent == winner
    with pytest.raises(HandoffError, match="already claimed"):
        live.reply(ticket, "ben" if winner == "anna" else "anna", "me too")


@pytest.mark.database
def test_messages_keep_their_order_and_survive_a_restart(database_at: DatabaseAt, clock: Clock) -> None:
    path = database_at("live")
    live = _stores(path, clock)
    conversation, ticket = _handed_over(live)
    conversation.pending_action = PendingAction("confirm", "extend_due_date", "cust-001", order_id="ord-1",
                                                candidates=("ord-1", "ord-2"), days=10)
    writers = [threading.Thread(target=live.customer_writes, args=(conversation, f"m{i}")) for i in range(5)]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    live.reply(ticket, "anna", "hello")
    live.rate(conversation.id, 4, "quick")

    again = _stores(path, clock)  # a new process on the same file
    assert again.owner(conversation.id) == "agent:anna"
    ids = [m.id for m in again.messages(conversation.id)]
    assert ids == sorted(ids) and len(ids) == 7
    assert again.messages(conversation.id)[-1].text == "hello"
    restored = again.load(conversation.id)
    assert restored is not None and restored.pending_action == conversation.pending_action
    with again.database.session() as conn:
        rating = conn.execute("SELECT score, comment, resolved_by FROM ratings").fetchone()
    assert tuple(rating) == (4, "quick", "agent")


def test_outside_support_hours_the_ticket_is_kept_and_the_customer_told_when(live: LiveChat, clock: Clock) -> None:
    clock.now = SUNDAY
    conversation, ticket = _handed_over(live)
    notice = live.messages(conversation.id)[-1].text
    assert ticket in notice and "e-mail" in notice and "Mon 08:00" in notice
    assert live.handoffs.get(ticket).status == "open"
    live.customer_writes(conversation, "ok, one more detail")  # they may keep writing
    assert live.messages(conversation.id)[-1].role == "customer"


def test_closing_asks_for_a_rating_and_hands_back(live: LiveChat) -> None:
    conversation, ticket = _handed_over(live)
    with pytest.raises(HandoffError, match="reason"):
        live.close(ticket, " ")
    live.close(ticket, "refund found")
    assert live.owner(conversation.id) == CLOSED
    assert "Rate it from 1 to 5" in live.messages(conversation.id)[-1].text
    assert live.rate(conversation.id, 5) == "assistant"  # no agent wrote: the assistant's hand-off resolved it
    with pytest.raises(ValueError, match="1 to 5"):
        live.rate(conversation.id, 6)
    live.reopen_for_customer(conversation.id)
    assert live.owner(conversation.id) == ASSISTANT


def test_coming_back_within_seven_days_on_the_same_topic_reopens_the_case(live: LiveChat, clock: Clock) -> None:
    _, first = _handed_over(live)
    live.close(first, "resolved")
    clock.now += timedelta(days=3)
    _, again = _handed_over(live)
    assert again == first and live.handoffs.get(first).reopened == 1 and live.handoffs.get(first).status == "open"
    live.close(first, "resolved")
    _, other_topic = _handed_over(live, topic="late-fees")
    assert other_topic != first
    clock.now += timedelta(days=8)
    _, later = _handed_over(live)
    assert later not in (first, other_topic)


def test_transfer_moves_the_ticket_to_another_queue(live: LiveChat) -> None:
    conversation, ticket = _handed_over(live)
    live.claim(ticket, "anna")
    moved = live.transfer(ticket, "fraud")
    assert (moved.team, moved.status, moved.agent, moved.priority) == ("fraud", "open", None, 1)
    assert live.owner(conversation.id) == QUEUED
    assert "fraud" in live.messages(conversation.id)[-1].text


def test_the_desk_routes_messages_to_the_agent_and_the_assistant_stays_silent(
        components: Callable[..., Components]) -> None:
    parts = components()
    desk, agents = parts.desk(), parts.agent_desk()
    assert agents is not None
    session = desk.sign_in(desk.new_session(), "cust-001")
    first = desk.send(session, "How long does a refund to my card take?")
    assert isinstance(first, Reply) and first.outcome == "answer"
    handed = desk.talk_to_person(session)
    assert handed is not None and handed.ticket_id
    ticket = handed.ticket_id
    assert [m.role for m in desk.poll(session)] == ["system"]  # the queue notice
    assert agents.queue()[0].ticket.ticket == ticket
    turns_before = len(session.conversation.turns)
    routed = desk.send(session, "It was the blue jacket order.")
    assert isinstance(routed, LiveTurn) and routed.owner == QUEUED
    assert len(session.conversation.turns) == turns_before + 1  # the customer's message, no assistant turn
    assert agents.queue()[0].unanswered == 2 and "blue jacket" in agents.queue()[0].last_customer_text
    assert "business days" in agents.suggestion(ticket)  # drafted from the refund articles
    panel = agents.account(ticket, "anna")
    assert panel is not None and panel.orders and "cust-001" in panel.customer
    agents.send(ticket, "anna", "I found it: the refund left us yesterday.")
    shown = desk.poll(session)
    assert [(m.role, m.author) for m in shown] == [("agent", "anna")]
    assert desk.status(session)[0] == "agent:anna"
    agents.close(ticket, "refund located")
    assert desk.rate_conversation(session, 5, "great") == "agent"
    after = desk.send(session, "And how do I change my payment method?")
    assert isinstance(after, Reply) and after.outcome in ("answer", "act")  # the assistant again
    with parts.database.session() as conn:  # type: ignore[union-attr]
        viewed = conn.execute("SELECT agent, action, entity FROM desk_access").fetchall()
    assert [tuple(v) for v in viewed] == [("anna", "view-account", "cust-001")]
    resumed = desk.resume(session.conversation.id, "cust-001")
    assert resumed is not None and [m.role for m in resumed[1]].count("agent") == 1
    assert desk.resume(session.conversation.id, "cust-002") is None  # someone else's conversation: no


@pytest.mark.database
def test_handoffs_cli_scripts_the_desk(tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch,
                                       database_at: DatabaseAt) -> None:
    monkeypatch.setenv("BNPL_DATA_DIR", str(tmp_path))
    target = database_at("bnpl")
    if isinstance(target, str):  # the PostgreSQL pass: the CLI finds the database by its URL
        monkeypatch.setenv("BNPL_DATABASE_URL", target)
    live = _stores(target, clock)
    conversation, ticket = _handed_over(live)
    runner = CliRunner()
    listed = json.loads(runner.invoke(app, ["handoffs", "--open", "--json"]).output)
    assert [(t["ticket"], t["conversation"], t["status"], t["owner"]) for t in listed] == [
        (ticket, conversation.id, "open", "queued")]
    sent = runner.invoke(app, ["handoffs", "reply", ticket, "--agent", "anna", "Hello, I am on it."])
    assert sent.exit_code == 0, sent.output
    shown = json.loads(runner.invoke(app, ["handoffs", "show", ticket, "--json"]).output)
    assert (shown["status"], shown["owner"]) == ("claimed", "agent:anna")
    assert [m["role"] for m in shown["messages"]] == ["system", "agent"] and all(m["at"] for m in shown["messages"])
    assert runner.invoke(app, ["handoffs", "release", ticket]).exit_code == 0
    assert live.owner(conversation.id) == ASSISTANT
    closed = runner.invoke(app, ["handoffs", "close", ticket, "--reason", "done"])
    assert closed.exit_code == 0 and "closed" in closed.output
    missing = runner.invoke(app, ["handoffs", "show", "HND-999999"])
    assert missing.exit_code == 1 and "no hand-off ticket" in missing.output and "Traceback" not in missing.output


@pytest.mark.database
def test_a_restart_in_the_middle_of_a_taken_over_conversation_loses_nothing(
        components: Callable[..., Components], database_at: DatabaseAt) -> None:
    db = database_at("restart")
    before = components(db_path=db)
    desk, agents = before.desk(), before.agent_desk()
    assert agents is not None
    session = desk.sign_in(desk.new_session(), "cust-002")
    desk.send(session, "My card was charged twice for one order")
    ticket = desk.talk_to_person(session).ticket_id  # type: ignore[union-attr]
    assert ticket is not None
    agents.send(ticket, "ben", "I am checking both charges now.")

    after = components(db_path=db)  # a new process on the same database: the page's memory is gone
    desk2, agents2 = after.desk(), after.agent_desk()
    assert agents2 is not None
    resumed = desk2.resume(session.conversation.id, "cust-002")
    assert resumed is not None
    session2, shown = resumed
    assert [m.role for m in shown][-2:] == ["system", "agent"]
    routed = desk2.send(session2, "Thanks, the order is ord-10002")
    assert isinstance(routed, LiveTurn) and routed.owner == "agent:ben"
    agents2.send(ticket, "ben", "Found it: the second charge is reversed.")
    assert [m.text for m in desk2.poll(session2)] == ["Found it: the second charge is reversed."]
    assert [t.role for t in session2.conversation.turns].count("agent") == 1  # context for the assistant later
    agents2.release(ticket)
    back = desk2.send(session2, "How long does a refund to my card take?")
    assert isinstance(back, Reply) and back.outcome == "answer"


@pytest.mark.database
def test_an_agent_message_written_during_an_assistant_turn_stays_in_the_conversation(
        live: LiveChat) -> None:
    """The assistant's turn saves the conversation it read at its start; an agent's message stored meanwhile (on
    another instance) must stay in the turns, before the turn's own."""
    conversation, ticket = _handed_over(live)
    mine = live.load(conversation.id)
    assert mine is not None
    read_turns = len(mine.turns)
    mine.turns += [Turn("customer", "is it on its way?", "en"), Turn("assistant", "Refunds take 3-5 days.", "en")]
    live.reply(ticket, "anna", "Hello, Anna here: I am looking at it.")  # another instance, while we answered
    live.exchange(mine, "is it on its way?", "Refunds take 3-5 days.", read_turns=read_turns)
    stored = live.load(conversation.id)
    assert stored is not None
    assert [(t.role, t.text) for t in stored.turns] == [
        ("customer", "where is my refund?"), ("agent", "Hello, Anna here: I am looking at it."),
        ("customer", "is it on its way?"), ("assistant", "Refunds take 3-5 days.")]
    assert mine.turns == stored.turns  # the caller's copy is the stored one


def test_the_desk_keeps_an_agent_message_that_arrives_while_the_assistant_answers(
        components: Callable[..., Components], monkeypatch: pytest.MonkeyPatch) -> None:
    parts = components()
    desk, agents, live = parts.desk(), parts.agent_desk(), parts.desk().live
    assert agents is not None and live is not None
    session = desk.sign_in(desk.new_session(), "cust-001")
    desk.send(session, "How long does a refund to my card take?")
    handed = desk.talk_to_person(session)
    assert handed is not None and handed.ticket_id
    agents.close(handed.ticket_id, "answered")  # the assistant has the conversation again
    respond_stream = desk.assistant.respond_stream

    def answering_while_an_agent_writes(*args: object, **kwargs: object) -> object:
        with live.database.write() as conn:  # the agent's message joins the stored turns (as _hand_to does)
            stored = live._load(conn, session.conversation.id)
            assert stored is not None
            stored.turns.append(Turn("agent", "One more thing: the refund left us today.", "en"))
            live._save(conn, stored)
        return respond_stream(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(desk.assistant, "respond_stream", answering_while_an_agent_writes)
    reply = desk.send(session, "And how do I change my payment method?")
    assert isinstance(reply, Reply)
    stored = live.load(session.conversation.id)
    assert stored is not None
    roles = [t.role for t in stored.turns]
    assert "One more thing: the refund left us today." in [t.text for t in stored.turns]
    assert roles[-2:] == ["customer", "assistant"] and stored.turns[-2].text == "And how do I change my payment method?"
