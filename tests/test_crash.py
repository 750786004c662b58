"""Crash safety: the real ``bnpl-assistant serve`` process is killed with SIGKILL mid-conversation.

Every turn the page acknowledged (the API call returned), the customer's feedback (given in headless
Chromium: the rating buttons have no public API) and the hand-off ticket must be in the SQLite file
afterwards, the file must pass an integrity check, and the ticket's webhook (the help desk was down while
the server ran) must be delivered from the outbox after the restart.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from bnpl_assistant.storage import open_database
from bnpl_assistant.support.handoffs import HandoffStore
from conftest import KNOWLEDGE, Built, copy_of_built
from servers import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]
STARTUP_S = 180  # loading the embedder and the classifier on a busy 2-core runner
TURNS = ["How does Pay in 4 work?", "how much do you charge if I pay an instalment late?",
         "Wie hoch ist die Mahngebühr?"]


@dataclass
class Served:
    url: str
    proc: subprocess.Popen[bytes]
    data_dir: Path
    webhook: str
    webhook_port: int
    log: Path


@pytest.fixture
def served(built: Built, tmp_path: Path) -> Iterator[Served]:
    """``bnpl-assistant serve`` on 127.0.0.1 with a copy of the session index and a help desk that is down."""
    data = copy_of_built(built, tmp_path / "data").data_dir
    port, webhook_port = free_port(), free_port()
    webhook = f"http://127.0.0.1:{webhook_port}/tickets"  # nothing listens there yet
    env = {**os.environ, "BNPL_DATA_DIR": str(data), "BNPL_KNOWLEDGE_DIR": str(KNOWLEDGE),
           "BNPL_HANDOFF_WEBHOOK": webhook, "BNPL_LLM": "offline", "GRADIO_ANALYTICS_ENABLED": "False",
           "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", "NO_PROXY": "127.0.0.1,localhost"}
    exe = shutil.which("bnpl-assistant", path=str(Path(sys.executable).parent)) or "bnpl-assistant"
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([exe, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + STARTUP_S
    try:
        while True:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"serve did not come up on {url}:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.5)
        yield Served(url, proc, data, webhook, webhook_port, log)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


@dataclass
class HelpDesk:
    received: list[dict[str, Any]] = field(default_factory=list)


def _start_help_desk(port: int) -> tuple[ThreadingHTTPServer, HelpDesk]:
    desk = HelpDesk()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            desk.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, desk


def _rows(db: Path, sql: str, *args: Any) -> list[sqlite3.Row]:
    # The raw driver on purpose: the file a killed server left behind, read as any SQLite client would,
    # without the code under test (no migrations, no PRAGMAs of ours).
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def _rate_in_browser(url: str, message: str, comment: str) -> None:
    """Feedback has no public API: a customer in headless Chromium asks, then rates the reply 👍."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        try:
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector("#message textarea", timeout=60_000)
            page.fill("#message textarea", message)
            page.press("#message textarea", "Enter")
            page.wait_for_selector("#outcome :text('Answered')", timeout=60_000)
            page.fill("#comment textarea", comment)
            page.click("#thumbs-up")
            page.wait_for_selector("#feedback-note :text('Thanks')", timeout=30_000)  # acknowledged
        finally:
            browser.close()


def test_sigkill_loses_no_acknowledged_turn_or_ticket(served: Served) -> None:
    from gradio_client import Client

    client = Client(served.url, verbose=False)
    api = client.view_api(print_info=False, return_format="dict")  # the page's API, as gradio publishes it
    endpoints = api["named_endpoints"]
    assert [p["parameter_name"] for p in endpoints["/chat"]["parameters"]] == ["text", "history", "lang", "customer_id"]
    assert [p["parameter_name"] for p in endpoints["/talk_to_person"]["parameters"]] == ["history", "lang",
                                                                                       "customer_id"]

    history: list[dict[str, Any]] = []
    for message in TURNS:
        # (chat, the cleared message box, the outcome badge, the sources): returned = acknowledged
        history, box, outcome, _sources = client.predict(text=message, history=history, lang="auto",
                                                         customer_id="", api_name="/chat")
        assert box == "" and "Answered" in outcome
        assert history[-1]["role"] == "assistant" and history[-1]["content"]
    history, outcome, _sources = client.predict(history=history, lang="auto", customer_id="",
                                                api_name="/talk_to_person")
    ticket = re.search(r"HND-\d{6}", outcome)
    assert ticket and "Handed to a person" in outcome, outcome
    assert ticket.group(0) in str(history[-1]["content"])
    rated = Path(CHROMIUM).exists()
    if rated:
        _rate_in_browser(served.url, "What is Pay in 30 days?", "clear answer")

    os.kill(served.proc.pid, signal.SIGKILL)  # no shutdown hook, no flush: the process just stops
    assert served.proc.wait(timeout=30) == -signal.SIGKILL

    db = served.data_dir / "bnpl.sqlite3"
    assert _rows(db, "PRAGMA integrity_check")[0][0] == "ok"
    turns = _rows(db, "SELECT conversation_id, turn_index, message, outcome, ticket, feedback, feedback_comment "
                      "FROM turns ORDER BY id")
    if rated:  # the browser's own conversation: one turn, rated
        browser_turn = turns.pop()
        assert (browser_turn["message"], browser_turn["feedback"], browser_turn["feedback_comment"]) == (
            "What is Pay in 30 days?", 1, "clear answer")
    assert [t["message"] for t in turns] == [*TURNS, "[pressed: talk to a person]"]
    assert len({t["conversation_id"] for t in turns}) == 1  # one conversation, in order
    assert [t["turn_index"] for t in turns] == [0, 1, 2, 3]
    assert [t["outcome"] for t in turns] == ["answer", "answer", "answer", "escalate"]
    assert turns[-1]["ticket"] == ticket.group(0)

    handoffs = _rows(db, "SELECT ticket, conversation_id, status, transcript FROM handoffs")
    assert [(h["ticket"], h["status"]) for h in handoffs] == [(ticket.group(0), "open")]
    assert handoffs[0]["conversation_id"] == turns[0]["conversation_id"]
    transcript = [t["text"] for t in json.loads(handoffs[0]["transcript"]) if t["role"] == "customer"]
    assert transcript == TURNS
    outbox = _rows(db, "SELECT ticket, url, status FROM outbox")
    assert [(o["ticket"], o["url"], o["status"]) for o in outbox] == [(ticket.group(0), served.webhook, "pending")]

    # After the restart the help desk is up: the outbox delivers what waited, exactly once.
    server, desk = _start_help_desk(served.webhook_port)
    try:
        store = HandoffStore(open_database(db), served.webhook, backoff_s=0, sleep=lambda _: None, timeout_s=5.0)
        report = store.deliver_outbox()
        assert (report.delivered, report.pending, report.rejected) == (1, 0, 0)
        assert store.deliver_outbox().attempts == 0
    finally:
        server.shutdown()
        server.server_close()
    assert [p["ticket"] for p in desk.received] == [ticket.group(0)]
    assert desk.received[0]["event"] == "handoff.created" and desk.received[0]["reason"] == "customer-pressed-button"
    assert _rows(db, "SELECT status FROM outbox")[0]["status"] == "delivered"
