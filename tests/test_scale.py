"""Scale-out: several app instances share one Chroma server (``chroma run`` on 127.0.0.1).

One instance ingests, another (own data directory, own client, no local index) answers from what the first
published; a content change ingested through the first reaches the second without a restart. A server that
goes away gives a hand-off reply or a clear error, never a stack trace.

To stay fast, the instances index an English-only copy of the knowledge base cut to each article's lead
section (one chunk per article), and start with the classifier's exemplar-embedding cache copied from the
session's built index (a pure cache keyed by text and embedder, so copying it changes no behaviour).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bnpl_assistant.cli import app
from bnpl_assistant.conversation import Conversation
from bnpl_assistant.errors import StoreUnavailableError
from bnpl_assistant.kb.articles import parse_article
from bnpl_assistant.settings import Settings
from bnpl_assistant.store import forget_client
from bnpl_assistant.wiring import build, ingest_all
from conftest import KNOWLEDGE, Built
from servers import free_port, start_chroma, stop_process

LATE_FEE = "how much do you charge if I pay an instalment late?"
ChromaServer = tuple[str, subprocess.Popen[bytes]]  # its address and its process


@pytest.fixture
def chroma(tmp_path: Path) -> Iterator[ChromaServer]:
    """A real ``chroma run`` on 127.0.0.1 and a free port; stopped by pid afterwards."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_chroma(tmp_path / "chroma", port, timeout_s=60)
    yield url, proc
    stop_process(proc)
    forget_client(tmp_path, url)


@pytest.fixture
def lead_kb(tmp_path: Path) -> Path:
    """The demo pack with its English articles only, each cut to its lead section: a valid, small pack (its
    labelled tickets, thresholds and account intents as shipped)."""
    root = tmp_path / "kb"
    (root / "en").mkdir(parents=True)
    for name in ("pack.yaml", "topics.yaml", "thresholds.yaml", "account_intents.yaml"):
        shutil.copy(KNOWLEDGE / name, root / name)
    shutil.copytree(KNOWLEDGE / "tickets", root / "tickets")
    for path in sorted((KNOWLEDGE / "en").glob("*.md")):
        text = path.read_text(encoding="utf-8")
        _, front, body = text.split("---\n", 2)
        lead = body.split("\n## ", 1)[0].strip()
        (root / "en" / path.name).write_text(f"---\n{front}---\n{lead}\n", encoding="utf-8")
    return root


def _instance(tmp_path: Path, name: str, url: str, kb: Path, built: Built) -> Settings:
    """Settings of one app instance: the shared server, its own data directory (with a warm exemplar cache)."""
    settings = Settings(chroma_url=url, data_dir=tmp_path / name, knowledge_dir=kb, llm="offline")
    shutil.copytree(built[0].cache_dir, settings.cache_dir)
    return settings


def _topic_articles(kb: Path, topic: str) -> set[str]:
    return {a.id for a in map(parse_article, (kb / "en").glob("*.md")) if a.topic == topic}


def test_one_instance_ingests_another_answers(built: Built, chroma: ChromaServer, lead_kb: Path,
                                              tmp_path: Path) -> None:
    url, _ = chroma
    writer = _instance(tmp_path, "writer", url, lead_kb, built)
    reader = _instance(tmp_path, "reader", url, lead_kb, built)

    report = ingest_all(writer)
    articles = len(list((lead_kb / "en").glob("*.md")))
    assert report.articles == {"en": articles} and report.added == report.chunks == report.embedded == articles

    forget_client(reader.index_dir, url)  # the reader opens its own connection, as a separate process would
    assistant = build(reader).assistant
    reply = assistant.respond(Conversation(), LATE_FEE)
    assert reply.outcome == "answer" and reply.topic == "late-fees"
    assert "7 EUR" in reply.text
    assert reply.sources and {s.id for s in reply.sources} <= _topic_articles(lead_kb, "late-fees")
    assert all(s.language == "en" and s.passage for s in reply.sources)
    assert not reader.index_dir.exists() and not writer.index_dir.exists()  # everything lives on the server

    # An edit ingested through the writer reaches the running reader: it follows the server's pointer.
    article = lead_kb / "en" / "late-fee-amounts.md"
    article.write_text(article.read_text(encoding="utf-8").replace("7 EUR", "9 EUR"), encoding="utf-8")
    again = ingest_all(writer)
    assert (again.updated, again.embedded, again.unchanged) == (1, 1, articles - 1)
    reply = assistant.respond(Conversation(), LATE_FEE)
    assert reply.topic == "late-fees" and "9 EUR" in reply.text and "7 EUR" not in reply.text


def test_stopped_server_gives_a_clear_answer_or_error(built: Built, chroma: ChromaServer, lead_kb: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    url, proc = chroma
    settings = _instance(tmp_path, "app", url, lead_kb, built)
    ingest_all(settings)
    assistant = build(settings).assistant
    assert assistant.respond(Conversation(), LATE_FEE).outcome == "answer"

    stop_process(proc)
    # A running instance hands the customer to a person instead of failing.
    reply = assistant.respond(Conversation(), LATE_FEE)
    assert reply.outcome == "escalate" and reply.reason == "store-unavailable"
    assert reply.team == "customer-care" and "unavailable" in reply.text

    # Underneath, the store raises the project's error, naming the server.
    with pytest.raises(StoreUnavailableError, match=url):
        assistant.search.store.pointer(max_age_s=0)

    # Starting an instance against it: the CLI says so in one line, with exit status 1.
    forget_client(settings.index_dir, url)
    for key, value in {"BNPL_CHROMA_URL": url, "BNPL_DATA_DIR": str(settings.data_dir),
                       "BNPL_KNOWLEDGE_DIR": str(lead_kb)}.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(app, ["ask", LATE_FEE])
    assert result.exit_code == 1
    assert "error:" in result.output and url in result.output.replace("\n", "")
    assert "Traceback" not in result.output
