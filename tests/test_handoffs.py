"""Hand-off tickets in SQLite, and the webhook outbox against a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bnpl_assistant.conversation import Conversation, Reply, Turn
from bnpl_assistant.settings import Settings
from bnpl_assistant.storage import open_database, session
from bnpl_assistant.support.handoffs import HandoffError, HandoffStore, summarise, transcript_of
from bnpl_assistant.wiring import handoff_store
from conftest import DatabaseAt

REPO = Path(__file__).resolve().parents[1]
FIXED = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def escalation(topic: str | None, team: str | None, reason: str = "", language: str = "en") -> Reply:
    return Reply(text="", outcome="escalate", topic=topic, retrieved_topics=[], sources=[], language=language,
                 confidence=0.9, reason=reason or (f"topic:{topic}" if topic else "customer-asked-for-human"),
                 team=team)


def chat(customer: str | None, *messages: str) -> Conversation:
    conversation = Conversation(customer_id=customer)
    for i, text in enumerate(messages):
        if i:
            conversation.turns.append(Turn("assistant", "Could you tell me more?", "en", None, "refuse"))
        conversation.turns.append(Turn("customer", text, "en"))
    return conversation


def store(database_at: DatabaseAt, url: str = "", **kwargs: Any) -> HandoffStore:
    priorities = {"unrecognized-purchase": 1, "financial-hardship": 1, "complaint": 3}
    return HandoffStore(open_database(database_at("bnpl")), url, priorities, clock=lambda: FIXED, **kwargs)


# -- tickets -------------------------------------------------------------------------------------------


@pytest.mark.database
def test_open_ticket_stores_everything_an_agent_needs(database_at: DatabaseAt) -> None:
    s = store(database_at)
    conversation = chat("cust-007", "There is a payment of 249.00 EUR on 2026-11-18 I never made.",
                        "My card 4111 1111 1111 1111 may be stolen, call me on +49 151 2345 6789.")
    number = s.open_ticket(conversation, escalation("unrecognized-purchase", "fraud"), conversation.turns[-1].text)
    assert number == "HND-000001"
    ticket = s.get(number)
    assert (ticket.customer_id, ticket.language, ticket.team, ticket.priority, ticket.status) == \
        ("cust-007", "en", "fraud", 1, "open")
    assert ticket.reason == "topic:unrecognized-purchase" and ticket.topic == "unrecognized-purchase"
    assert ticket.created_at == FIXED.isoformat(timespec="seconds")
    texts = [t["text"] for t in ticket.transcript]
    assert len(texts) == 3 and "[CARD]" in texts[-1] and "[PHONE]" in texts[-1]
    assert "4111" not in json.dumps(ticket.transcript) and "2345 6789" not in json.dumps(ticket.transcript)
    assert "249.00 EUR" in ticket.summary and "4111" not in ticket.summary


def test_message_not_yet_in_the_conversation_is_added(tmp_path: Path) -> None:
    conversation = chat(None, "hello")
    turns = transcript_of(conversation, "I want to complain about your service")
    assert [t["text"] for t in turns] == ["hello", "I want to complain about your service"]
    assert transcript_of(conversation, "hello") == turns[:1]


@pytest.mark.database
def test_priority_puts_fraud_and_hardship_first(database_at: DatabaseAt) -> None:
    s = store(database_at)
    s.open_ticket(chat("cust-001", "complaint"), escalation("complaint", "complaints"), "complaint")
    s.open_ticket(chat("cust-002", "a person please"), escalation(None, "customer-care"), "a person please")
    s.open_ticket(chat("cust-003", "I can't pay"), escalation("financial-hardship", "customer-care-hardship"),
                  "I can't pay")
    s.open_ticket(chat("cust-004", "not my purchase"), escalation(None, "fraud"), "not my purchase")
    queue = s.list(open_only=True)
    assert [t.customer_id for t in queue] == ["cust-003", "cust-004", "cust-001", "cust-002"]
    assert [t.priority for t in queue] == [1, 1, 3, 4]


@pytest.mark.database
def test_same_conversation_keeps_one_open_ticket(database_at: DatabaseAt) -> None:
    s = store(database_at)
    conversation = chat("cust-005", "I need a person")
    first = s.open_ticket(conversation, escalation(None, "customer-care"), "I need a person")
    conversation.turns.append(Turn("customer", "actually it is about a payment I did not make", "en"))
    second = s.open_ticket(conversation, escalation("unrecognized-purchase", "fraud"),
                           "actually it is about a payment I did not make")
    assert first == second and len(s.list()) == 1
    ticket = s.get(first)
    assert ticket.priority == 1 and len(ticket.transcript) == 2
    s.close(first)
    assert s.open_ticket(conversation, escalation(None, "customer-care"), "again") == "HND-000002"


@pytest.mark.database
def test_claim_and_close(database_at: DatabaseAt) -> None:
    s = store(database_at)
    number = s.open_ticket(chat("cust-001", "help"), escalation(None, "customer-care"), "help")
    claimed = s.claim(number, "agent-ana")
    stamp = FIXED.isoformat(timespec="seconds")
    assert (claimed.status, claimed.agent, claimed.claimed_at) == ("claimed", "agent-ana", stamp)
    assert s.claim(number.lower(), "agent-ana").agent == "agent-ana"  # same agent again: no change
    with pytest.raises(HandoffError, match="already claimed by agent-ana"):
        s.claim(number, "agent-bo")
    closed = s.close("1")  # the bare number works too
    assert closed.status == "closed" and s.close(number).closed_at == closed.closed_at
    assert s.list(open_only=True) == [] and [t.ticket for t in s.list()] == [number]
    with pytest.raises(HandoffError, match="closed"):
        s.claim(number, "agent-ana")
    with pytest.raises(HandoffError, match="no hand-off ticket"):
        s.get("HND-999999")
    with pytest.raises(HandoffError):
        s.claim(number, " ")


def test_summary_is_extractive_and_short() -> None:
    texts = ["Hi there.", "Order ord-10003 for 89.90 EUR was charged twice. I am really upset about it!",
             "Please fix this today. Thanks."]
    summary = summarise(texts)
    sentences = [s for t in texts for s in t.replace("! ", "!|").replace(". ", ".|").split("|")]
    assert "Order ord-10003 for 89.90 EUR was charged twice." in summary
    assert all(part in sentences for part in summary.replace("! ", "!|").replace(". ", ".|").split("|"))
    assert len(summarise(["word " * 400])) <= 400
    assert summarise([]) == ""


def test_wiring_reads_topic_priorities(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", knowledge_dir=REPO / "knowledge",
                        handoff_webhook="http://127.0.0.1:9/hook")
    s = handoff_store(settings, open_database(settings.db_path))
    assert s.database.path == settings.db_path and s.webhook_url == "http://127.0.0.1:9/hook"
    assert s.priority("unrecognized-purchase", "fraud") == 1
    assert s.priority("financial-hardship", "customer-care-hardship") == 1
    assert s.priority("complaint", "complaints") == 3


@pytest.mark.database
def test_no_webhook_no_outbox(database_at: DatabaseAt) -> None:
    s = store(database_at)
    s.open_ticket(chat("cust-001", "help"), escalation(None, "customer-care"), "help")
    assert s.pending_outbox() == 0
    assert s.deliver_outbox().delivered == 0


# -- the webhook outbox against a real local receiver --------------------------------------------------


@dataclass
class Receiver:
    """A help desk on 127.0.0.1 that answers the first ``fail`` requests with ``status``."""

    fail: int = 0
    status: int = 503
    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    attempts: int = 0
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.attempts += 1
            if state.attempts <= state.fail:
                self.send_response(state.status)
                self.end_headers()
                return
            state.received.append(json.loads(body))
            state.headers.append(dict(self.headers))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"ok": true}')

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/tickets"
    yield state
    server.shutdown()
    server.server_close()


@pytest.mark.database
def test_outbox_retries_until_the_help_desk_answers(database_at: DatabaseAt, receiver: Receiver) -> None:
    receiver.fail = 2
    sleeps: list[float] = []
    s = store(database_at, receiver.url, attempts_per_call=3, backoff_s=0.25, sleep=sleeps.append)
    number = s.open_ticket(chat("cust-009", "I was charged for an order I never placed"),
                           escalation("unrecognized-purchase", "fraud"), "I was charged for an order I never placed")
    assert s.pending_outbox() == 1  # queued with the ticket, nothing sent yet
    report = s.deliver_outbox()
    assert (report.delivered, report.pending, report.rejected, report.attempts) == (1, 0, 0, 3)
    assert sleeps == [0.25, 0.5]
    payload = receiver.received[0]
    assert payload["event"] == "handoff.created" and payload["ticket"] == number
    assert payload["team"] == "fraud" and payload["priority"] == 1 and payload["customer_id"] == "cust-009"
    assert payload["transcript"][0]["text"].startswith("I was charged")
    assert receiver.headers[0]["Idempotency-Key"].startswith(number)
    assert s.deliver_outbox().attempts == 0  # delivered items are not sent again


@pytest.mark.database
def test_an_outage_loses_nothing(receiver: Receiver, database_at: DatabaseAt) -> None:
    receiver.fail = 100
    s = store(database_at, receiver.url, attempts_per_call=2, backoff_s=0, sleep=lambda _: None)
    for i in range(3):
        s.open_ticket(chat(f"cust-00{i + 1}", "a person please"), escalation(None, "customer-care"), "x")
    first = s.deliver_outbox()
    assert (first.delivered, first.pending, first.attempts) == (0, 3, 2)  # stops after the first item fails
    with session(database_at("bnpl")) as conn:
        row = conn.execute("SELECT attempts, last_error, status FROM outbox ORDER BY id LIMIT 1").fetchone()
    assert (row["attempts"], row["last_error"], row["status"]) == (2, "HTTP 503", "pending")
    receiver.fail = 0
    second = s.deliver_outbox()
    assert (second.delivered, second.pending) == (3, 0)
    assert [p["customer_id"] for p in receiver.received] == ["cust-001", "cust-002", "cust-003"]


@pytest.mark.database
def test_unreachable_webhook_keeps_items_pending(receiver: Receiver, database_at: DatabaseAt) -> None:
    dead = "http://127.0.0.1:9/tickets"  # nothing listens on the discard port
    s = store(database_at, dead, attempts_per_call=2, backoff_s=0, sleep=lambda _: None, timeout_s=1.0)
    s.open_ticket(chat("cust-001", "help"), escalation(None, "customer-care"), "help")
    report = s.deliver_outbox()
    assert (report.delivered, report.pending) == (0, 1)
    with session(database_at("bnpl")) as conn:
        error = conn.execute("SELECT last_error FROM outbox").fetchone()[0]
    assert "ConnectError" in error


@pytest.mark.database
def test_client_errors_are_not_retried(database_at: DatabaseAt, receiver: Receiver) -> None:
    receiver.fail, receiver.status = 1, 400
    s = store(database_at, receiver.url, attempts_per_call=3, backoff_s=0, sleep=lambda _: None)
    s.open_ticket(chat("cust-001", "help"), escalation(None, "customer-care"), "help")
    report = s.deliver_outbox()
    assert (report.delivered, report.rejected, report.pending, report.attempts) == (0, 1, 0, 1)
    assert s.deliver_outbox().attempts == 0


@pytest.mark.database
def test_instances_delivering_at_once_post_each_item_once(database_at: DatabaseAt, receiver: Receiver) -> None:
    """Four instances (outboxes with their own names, as four processes of a fleet) deliver the same queue at
    the same time, a few items per call: every ticket reaches the help desk exactly once."""
    from bnpl_assistant.support.outbox import Outbox

    s = store(database_at, receiver.url)
    numbers = [s.open_ticket(chat(f"cust-{i:03d}", "a person please"), escalation(None, "customer-care"), "x")
               for i in range(1, 25)]
    outboxes = [Outbox(s.database, receiver.url, backoff_s=0, sleep=lambda _: None) for _ in range(4)]
    for k, outbox in enumerate(outboxes):
        outbox.instance = f"instance-{k}"
    start = threading.Barrier(len(outboxes))
    errors: list[BaseException] = []

    def drain(outbox: Outbox) -> None:
        try:
            start.wait()
            while outbox.deliver(limit=3).delivered:
                pass
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=drain, args=(o,)) for o in outboxes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sorted(p["ticket"] for p in receiver.received) == sorted(numbers)  # each once, none lost
    assert s.pending_outbox() == 0
    with session(s.database.target) as conn:
        assert conn.execute("SELECT COUNT(*) FROM outbox WHERE claimed_by IS NOT NULL").fetchone()[0] == 0


@pytest.mark.database
def test_a_dead_instances_claim_runs_out(database_at: DatabaseAt, receiver: Receiver) -> None:
    """An instance that claimed items and died: they wait for the lease, then another instance posts them."""
    from bnpl_assistant.support import outbox as outbox_module
    from bnpl_assistant.support.outbox import Outbox

    s = store(database_at, receiver.url)
    s.open_ticket(chat("cust-001", "a person please"), escalation(None, "customer-care"), "x")
    now = [datetime(2026, 11, 20, 9, 0, tzinfo=UTC)]
    dead = Outbox(s.database, receiver.url, clock=lambda: now[0])
    dead.instance = "dead"
    assert len(dead._claim(10)) == 1  # claimed, then the process is gone before posting
    other = Outbox(s.database, receiver.url, clock=lambda: now[0])
    assert other.deliver().delivered == 0  # still held
    now[0] += timedelta(seconds=outbox_module.LEASE_S + 1)
    assert other.deliver().delivered == 1
    assert [p["customer_id"] for p in receiver.received] == ["cust-001"]


@pytest.mark.database
def test_a_claim_of_a_process_gone_from_this_host_is_taken_at_once(database_at: DatabaseAt,
                                                                   receiver: Receiver) -> None:
    """An instance killed mid-delivery and restarted on the same host does not wait out its own lease."""
    import socket
    import subprocess
    import sys

    from bnpl_assistant.support.outbox import Outbox

    s = store(database_at, receiver.url)
    s.open_ticket(chat("cust-001", "a person please"), escalation(None, "customer-care"), "x")
    s.open_ticket(chat("cust-002", "a person please"), escalation(None, "customer-care"), "x")
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                           text=True, check=True)
    elsewhere = Outbox(s.database, receiver.url)
    elsewhere.instance = "another-host:1"  # alive for all this host can tell: its lease holds
    assert [r["ticket"] for r in elsewhere._claim(1)] == [s.list()[0].ticket]
    dead = Outbox(s.database, receiver.url)
    dead.instance = f"{socket.gethostname()}:{int(ended.stdout)}"  # a process of this host that has ended
    assert len(dead._claim(1)) == 1
    report = Outbox(s.database, receiver.url).deliver()
    assert (report.delivered, report.pending) == (1, 1)
    assert [p["customer_id"] for p in receiver.received] == ["cust-002"]


# -- the handoffs command --------------------------------------------------------------------------------


def _handoffs_command(data_dir: Path, *args: str, database: Path | str | None = None) -> str:
    from typer.testing import CliRunner

    from bnpl_assistant.cli import app

    env = {"BNPL_DATA_DIR": str(data_dir), "COLUMNS": "80"}
    if isinstance(database, str):  # a database URL (the PostgreSQL pass)
        env["BNPL_DATABASE_URL"] = database
    result = CliRunner(env=env).invoke(app, ["handoffs", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_handoffs_on_an_empty_data_dir_says_so_and_creates_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    out = _handoffs_command(data, "--open")
    assert out == f"no hand-off tickets yet (no database at {data / 'bnpl.sqlite3'})\n"
    assert not data.exists()  # looking created neither the folder nor a database
    open_database(data / "bnpl.sqlite3")
    assert _handoffs_command(data, "--open") == f"no open hand-off tickets in {data / 'bnpl.sqlite3'}\n"


@pytest.mark.database
def test_handoffs_never_cuts_the_ticket_number_in_80_columns(tmp_path: Path, database_at: DatabaseAt) -> None:
    s = store(database_at)
    long = "I lost my job last month and cannot pay the instalments for my sofa and my laptop, what now?"
    numbers = [s.open_ticket(chat(f"cust-0{i:02d}", long), escalation("financial-hardship", "customer-care-hardship"),
                             long) for i in range(1, 4)]
    numbers.append(s.open_ticket(chat(None, "a person please"), escalation(None, "customer-care"), "a person please"))
    target = database_at("bnpl")
    lines = _handoffs_command(tmp_path, "--open", database=target).splitlines()
    assert lines[0] == f"4 open hand-off ticket(s) in {target}"
    assert all(len(line) <= 80 for line in lines[1:])  # the table fits the terminal ...
    for number in numbers:  # ... and each number is whole, on one line, in the first column
        assert sum(line.startswith(f"│ {number} │") for line in lines) == 1
    assert "2026-11-20 09:30" in "\n".join(lines)  # created (UTC), never cut either
