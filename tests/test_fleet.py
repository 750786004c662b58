"""A fleet on one box: two real ``bnpl-assistant serve`` instances on one ``chroma run`` server and one
PostgreSQL database, all on 127.0.0.1.

A customer chats on A (its HTTP API, as the page does) and asks for a person; an agent answers from B's agent
desk (headless Chromium); the customer on A sees the reply; A is killed with SIGKILL in the middle of the
conversation; the customer continues on B by the conversation id (what the page's stored id does on reload) with
the history intact and no acknowledged turn lost; the outbox, delivered by both instances in the background,
posts each ticket exactly once. Then the same two instances behind nginx with the configuration of
``docs/deploy.md``: health and chat through the proxy, and the proxy moves on when one instance dies.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
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

from bnpl_assistant.storage import dispose, session
from bnpl_assistant.store import VectorStore, forget_client
from conftest import KNOWLEDGE, REPO, Built
from postgres import Cluster
from servers import free_port, start_chroma, stop_process

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
STARTUP_S = 240  # two instances loading models at once on a busy 2-core runner
UI_TIMEOUT_MS = 60_000  # each step on the agent desk (the page refreshes its queue every few seconds)


@dataclass
class Instance:
    name: str
    url: str
    proc: subprocess.Popen[bytes]
    log: Path


@dataclass
class HelpDesk:
    received: list[dict[str, Any]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # Idempotency-Key of each post: "<ticket>-<outbox id>"
    url: str = ""


@dataclass
class Fleet:
    a: Instance
    b: Instance
    database_url: str
    desk: HelpDesk


@pytest.fixture
def help_desk() -> Iterator[HelpDesk]:
    desk = HelpDesk()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            desk.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            desk.keys.append(self.headers["Idempotency-Key"])
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    desk.url = f"http://127.0.0.1:{server.server_address[1]}/tickets"
    yield desk
    server.shutdown()
    server.server_close()


def _start(name: str, env: dict[str, str], tmp_path: Path) -> Instance:
    port = free_port()
    exe = shutil.which("bnpl-assistant", path=str(Path(sys.executable).parent)) or "bnpl-assistant"
    log = tmp_path / f"serve-{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([exe, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    return Instance(name, f"http://127.0.0.1:{port}/", proc, log)


def _wait_healthy(instance: Instance) -> None:
    deadline = time.monotonic() + STARTUP_S
    while True:
        try:
            if httpx.get(instance.url + "healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if instance.proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{instance.name} did not come up:\n{instance.log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.5)


@pytest.fixture
def fleet(built: Built, postgres: Cluster, help_desk: HelpDesk, tmp_path: Path) -> Iterator[Fleet]:
    base = built[0]
    chroma_port = free_port()
    chroma_url = f"http://127.0.0.1:{chroma_port}"
    chroma = start_chroma(tmp_path / "chroma", chroma_port)
    database_url = postgres.create_database("fleet")
    instances: list[Instance] = []
    try:
        # The index published to the Chroma server once, as `ingest` on one instance would (the session index's
        # chunks and vectors, not embedded again).
        local = VectorStore(base.index_dir, base.collection)
        pointer = local.pointer()
        assert pointer is not None
        VectorStore(tmp_path / "publisher", base.collection, chroma_url).publish(
            local.all_chunks(with_embeddings=True), pointer["embedder"])
        for name in ("a", "b"):
            data = tmp_path / f"data-{name}"
            shutil.copytree(base.cache_dir, data / "cache")  # the classifier and exemplar caches, per machine
            env = {**os.environ, "BNPL_DATA_DIR": str(data), "BNPL_KNOWLEDGE_DIR": str(KNOWLEDGE),
                   "BNPL_CHROMA_URL": chroma_url, "BNPL_DATABASE_URL": database_url,
                   "BNPL_HANDOFF_WEBHOOK": help_desk.url, "BNPL_OUTBOX_INTERVAL_S": "0.5", "BNPL_LLM": "offline",
                   "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False",
                   "NO_PROXY": "127.0.0.1,localhost"}
            instances.append(_start(name, env, tmp_path))
        for instance in instances:
            _wait_healthy(instance)
        yield Fleet(instances[0], instances[1], database_url, help_desk)
    finally:
        for instance in instances:
            if instance.proc.poll() is None:
                os.kill(instance.proc.pid, signal.SIGKILL)
            instance.proc.wait(timeout=30)
        stop_process(chroma)
        forget_client(tmp_path / "publisher", chroma_url)
        dispose(database_url)


def _chat(client: Any, text: str, history: list[Any], customer: str) -> tuple[list[Any], str]:
    history, box, outcome, _sources = client.predict(text=text, history=history, lang="auto", customer_id=customer,
                                                     api_name="/chat")
    assert box == ""
    return history, outcome


def _texts(history: list[Any]) -> list[str]:
    """The chat's messages as plain text (the page escapes Markdown in what people wrote)."""
    out = []
    for message in history:
        content = message["content"]
        text = " ".join(c.get("text", "") for c in content) if isinstance(content, list) else str(content)
        out.append(text.replace("\\", ""))
    return out


def _agent_replies(url: str, ticket: str, agent_name: str, text: str, shots: Path) -> None:
    """An agent opens ``ticket`` on the agent desk of the page at ``url`` (headless Chromium) and sends ``text``
    (a screenshot of the desk is left in ``shots`` when a step times out)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        try:
            agent = browser.new_context(viewport={"width": 1400, "height": 1200}).new_page()
            agent.set_default_timeout(UI_TIMEOUT_MS)
            agent.goto(url)
            agent.wait_for_selector("#message textarea", timeout=60_000)
            agent.get_by_role("tab", name="Agent desk").click()
            agent.fill("#agent-name textarea, #agent-name input", agent_name)
            try:
                # a ticket opened on another instance is on this queue
                agent.wait_for_function(f"document.querySelector('#queue').innerText.includes('{ticket}')")
                agent.locator("#queue").get_by_text(ticket, exact=True).last.click()
                # opened: the suggested reply is in the box (it can land after the account panel has rendered,
                # and would then replace what is typed before it arrives)
                agent.wait_for_function("document.querySelector('#account-view').innerText.trim().length > 0")
                agent.wait_for_function("document.querySelector('#agent-reply textarea').value.length > 20")
                agent.fill("#agent-reply textarea", text)
                agent.click("#agent-send")
                # sent: the desk's transcript shows it
                agent.wait_for_function(f"document.querySelector('#ticket-view').innerText.includes({text[:15]!r})")
            except Exception:
                agent.screenshot(path=str(shots / "agent-desk.png"))
                raise
        finally:
            browser.close()


def _poll_until(client: Any, history: list[Any], wanted: str, timeout_s: float = 20.0) -> tuple[list[Any], float]:
    """Poll as the page does until a message containing ``wanted`` arrives: (the chat, seconds it took)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        shown, _status = client.predict(history=history, api_name="/poll")
        if isinstance(shown, list) and any(wanted in t for t in _texts(shown)):  # else: nothing new
            return shown, time.monotonic() - started
        time.sleep(0.2)
    pytest.fail(f"{wanted!r} never reached the customer")


@pytest.mark.browser
def test_a_conversation_survives_its_instance(fleet: Fleet, tmp_path: Path) -> None:
    from gradio_client import Client

    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium for the agent desk")
    customer, shots = "cust-002", tmp_path
    on_a = Client(fleet.a.url, verbose=False)
    history, outcome = _chat(on_a, "My card was charged twice for one order", [], customer)
    acknowledged = ["My card was charged twice for one order"]
    history, outcome, _ = on_a.predict(history=history, lang="auto", customer_id=customer,
                                       api_name="/talk_to_person")
    found = re.search(r"HND-\d{6}", outcome)
    assert found and "Handed to a person" in outcome, outcome
    ticket = found.group(0)

    _agent_replies(fleet.b.url, ticket, "Ben", "Hi, this is Ben. I am checking both charges now.", shots)
    # The customer, still on A, sees B's agent by polling (the live hand-off crosses instances by the database).
    history, seen_after = _poll_until(on_a, history, "this is Ben")
    assert seen_after < 5.0  # polled every second by the page

    history, outcome = _chat(on_a, "It was order ord-10002", history, customer)
    acknowledged.append("It was order ord-10002")
    with session(fleet.database_url) as conn:
        conversation_id = conn.execute("SELECT conversation_id FROM handoffs WHERE ticket = ?",
                                       (ticket,)).fetchone()[0]

    os.kill(fleet.a.proc.pid, signal.SIGKILL)  # mid-conversation, no shutdown
    assert fleet.a.proc.wait(timeout=30) == -signal.SIGKILL
    killed_at = time.monotonic()

    on_b = Client(fleet.b.url, verbose=False)
    resumed, signed_in, status = on_b.predict(conversation_id=conversation_id, customer_id=customer,
                                              api_name="/resume")
    continued_after = time.monotonic() - killed_at
    texts = _texts(resumed)
    assert signed_in == customer and "Ben" in status
    for message in [*acknowledged, "this is Ben"]:  # the whole history, nothing acknowledged lost
        assert any(message in t for t in texts), (message, texts)
    history, outcome = _chat(on_b, "Thanks, I will wait", resumed, customer)
    acknowledged.append("Thanks, I will wait")
    with session(fleet.database_url) as conn:
        customer_said = [r[0] for r in conn.execute(
            "SELECT text FROM messages WHERE conversation_id = ? AND role = 'customer' ORDER BY id",
            (conversation_id,)).fetchall()]
        owner = conn.execute("SELECT owner FROM conversations WHERE id = ?", (conversation_id,)).fetchone()[0]
    assert customer_said == acknowledged
    assert owner == "agent:Ben"  # B routed the message to the agent, as A would have
    assert continued_after < 10.0

    # Both instances ran the outbox in the background: each event (the ticket opened, then updated when the
    # customer pressed the button) posted once.
    with session(fleet.database_url) as conn:
        events = [f"{r[0]}-{r[1]}" for r in conn.execute("SELECT ticket, id FROM outbox ORDER BY id").fetchall()]
    assert len(events) >= 1
    deadline = time.monotonic() + 20
    while len(fleet.desk.keys) < len(events) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2.0)  # a second post, if there were one, would arrive within the next rounds
    assert sorted(fleet.desk.keys) == sorted(events)
    assert {p["ticket"] for p in fleet.desk.received} == {ticket}


@pytest.mark.skipif(not Path(NGINX).exists(), reason="needs Debian's nginx")
def test_the_deploy_guides_nginx_config_in_front_of_two_instances(fleet: Fleet, tmp_path: Path) -> None:
    """docs/deploy.md's nginx configuration, with these ports, run as written: health and a chat through the
    proxy, and when an instance dies the proxy sends the next visitor to the other."""
    from gradio_client import Client

    port = free_port()
    text = (REPO / "docs" / "nginx.conf").read_text(encoding="utf-8")
    text = text.replace("127.0.0.1:7861", fleet.a.url.removeprefix("http://").rstrip("/"))
    text = text.replace("127.0.0.1:7862", fleet.b.url.removeprefix("http://").rstrip("/"))
    text = text.replace("listen 8080", f"listen 127.0.0.1:{port}")
    (tmp_path / "nginx").mkdir()
    conf = tmp_path / "nginx" / "nginx.conf"
    conf.write_text("pid " + str(tmp_path / "nginx" / "nginx.pid") + ";\nerror_log " + str(tmp_path / "nginx" /
                    "error.log") + ";\nevents {}\nhttp {\n  access_log off;\n  client_body_temp_path " +
                    str(tmp_path / "nginx") + ";\n" + text + "\n}\n", encoding="utf-8")
    proc = subprocess.Popen([NGINX, "-c", str(conf), "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                health = httpx.get(url + "healthz", timeout=2)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert health.status_code == 200 and health.json()["database"] == "ok"
        _, outcome = _chat(Client(url, verbose=False), "How does Pay in 4 work?", [], "")
        assert "Answered" in outcome
        for instance in (fleet.a, fleet.b):  # one of them served that; kill one: the proxy uses the other
            if instance.proc.poll() is None:
                os.kill(instance.proc.pid, signal.SIGKILL)
                instance.proc.wait(timeout=30)
                break
        assert httpx.get(url + "healthz", timeout=10).status_code == 200
        _, outcome = _chat(Client(url, verbose=False), "Wie hoch ist die Mahngebühr?", [], "")
        assert "Answered" in outcome
    finally:
        proc.terminate()
        proc.wait(timeout=20)
