"""The OpenAI path through the real openai client against a local OpenAI-compatible server."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from bnpl_assistant.assistant import Assistant
from bnpl_assistant.conversation import Conversation, Reply
from bnpl_assistant.errors import ConfigError, ProviderError
from bnpl_assistant.providers.factory import make_chat_model
from bnpl_assistant.providers.openai import OpenAIChatModel
from bnpl_assistant.retrieve.hybrid import Passage
from bnpl_assistant.settings import Settings
from bnpl_assistant.wiring import Components
from fake_openai import FakeOpenAI

PASSAGES = [Passage("en/late-fee#0", "A late fee of 7 EUR applies after 10 days.", "late-fee", "Late fees",
                    "late-fees", "en", "", 0)]


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


def _model(server: FakeOpenAI, retries: int = 2, timeout: float = 5.0) -> OpenAIChatModel:
    settings = Settings(llm="openai:test-model", openai_base_url=server.base_url, llm_max_retries=retries,
                        llm_timeout_s=timeout)
    model = make_chat_model(settings)
    assert isinstance(model, OpenAIChatModel)
    model.backoff_s = 0.01
    return model


def test_answer_is_grounded_prompt_with_passages(server: FakeOpenAI) -> None:
    server.enqueue(kind="text", content="The late fee is 7 EUR [en/late-fee#0].")
    text = _model(server).answer("how much is the late fee?", "de", PASSAGES, [])
    assert text == "The late fee is 7 EUR [en/late-fee#0]."
    system = server.calls[0]["messages"][0]["content"]
    assert "[en/late-fee#0]" in system and "German" in system and "don't know" in system


def test_streaming_tokens(server: FakeOpenAI) -> None:
    server.enqueue(kind="stream", chunks=["The late ", "fee is ", "7 EUR."])
    deltas = list(_model(server).stream("late fee?", "en", PASSAGES, []))
    assert "".join(deltas) == "The late fee is 7 EUR." and len(deltas) == 3
    assert server.calls[0]["stream"] is True


def test_retries_429_and_5xx_then_succeeds(server: FakeOpenAI) -> None:
    server.enqueue(kind="status", code=429, headers={"Retry-After": "0"})
    server.enqueue(kind="status", code=503)
    server.enqueue(kind="text", content="fine")
    assert _model(server, retries=2).answer("q", "en", PASSAGES, []) == "fine"
    assert len(server.calls) == 3


def test_gives_up_after_bounded_retries(server: FakeOpenAI) -> None:
    for _ in range(5):
        server.enqueue(kind="status", code=500)
    with pytest.raises(ProviderError, match="after 3 attempt"):
        _model(server, retries=2).answer("q", "en", PASSAGES, [])
    assert len(server.calls) == 3


def test_client_errors_are_not_retried(server: FakeOpenAI) -> None:
    server.enqueue(kind="status", code=400)
    with pytest.raises(ProviderError):
        _model(server).answer("q", "en", PASSAGES, [])
    assert len(server.calls) == 1


def test_empty_and_malformed_completions(server: FakeOpenAI) -> None:
    server.enqueue(kind="text", content="")
    with pytest.raises(ProviderError, match="empty"):
        _model(server).answer("q", "en", PASSAGES, [])
    server.enqueue(kind="malformed")
    with pytest.raises(ProviderError):
        _model(server, retries=0).answer("q", "en", PASSAGES, [])


def test_timeout_is_retried_then_fails(server: FakeOpenAI) -> None:
    server.enqueue(kind="sleep", seconds=1.0)
    server.enqueue(kind="sleep", seconds=1.0)
    with pytest.raises(ProviderError, match="Timeout"):
        _model(server, retries=1, timeout=0.3).answer("q", "en", PASSAGES, [])


def test_stream_cut_mid_reply(server: FakeOpenAI) -> None:
    server.enqueue(kind="stream_cut", chunks=["The late "])
    with pytest.raises(ProviderError):
        list(_model(server).stream("q", "en", PASSAGES, []))


def test_unknown_provider_lists_choices() -> None:
    with pytest.raises(ConfigError, match="offline, openai:<model>"):
        make_chat_model(Settings(llm="anthropic:claude"))
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        make_chat_model(Settings(llm="openai:gpt-4o-mini"))
    assert make_chat_model(Settings(llm="offline")) is None


def test_assistant_uses_model_and_falls_back_offline(components: Callable[..., Components],
                                                     server: FakeOpenAI) -> None:
    assistant = components(llm=_model(server, retries=0)).assistant
    server.enqueue(kind="text", content="Die Mahngebühr beträgt 7 EUR [de/late-fee-amounts#0].")
    reply = assistant.respond(Conversation(), "Wie hoch ist die Mahngebühr, wenn ich zu spät zahle?")
    assert reply.outcome == "answer" and reply.model_path == "openai:test-model"
    assert "7 EUR" in reply.text and not reply.fell_back
    server.enqueue(kind="status", code=503)
    reply = assistant.respond(Conversation(), "Wie hoch ist die Mahngebühr, wenn ich zu spät zahle?")
    assert reply.fell_back and reply.model_path == "offline" and "503" in reply.fallback_reason
    assert reply.sources and reply.text


def test_assistant_acts_by_function_calling_and_summarises_hand_offs(components: Callable[..., Components],
                                                                     server: FakeOpenAI) -> None:
    built = components(llm=_model(server, retries=0))
    assistant, handoffs = built.assistant, built.handoffs
    assert handoffs is not None
    # the model picks the tool, then writes the hand-off summary
    server.enqueue(kind="tool_call", name="next_payment", arguments={})
    reply = assistant.respond(Conversation(), "when do I have to pay the next one?", customer="cust-001")
    assert reply.outcome == "act" and reply.tool == "next_payment" and reply.model_path == "openai:test-model"
    assert {t["function"]["name"] for t in server.calls[-1]["tools"]} >= {"next_payment", "report_return"}

    server.enqueue(kind="text", content="Customer does not recognise a charge; possible fraud.")
    reply = assistant.respond(Conversation(), "There is a payment on my account that I did not make, I think "
                                              "someone stole my details")
    assert reply.outcome == "escalate" and reply.ticket_id
    ticket = handoffs.get(reply.ticket_id)
    assert ticket.summary_by == "openai:test-model" and "possible fraud" in ticket.summary


def test_respond_stream_yields_deltas_then_the_reply(assistant: Assistant, components: Callable[..., Components],
                                                     server: FakeOpenAI) -> None:
    question = "Wie hoch ist die Mahngebühr, wenn ich zu spät zahle?"
    offline = list(assistant.respond_stream(Conversation(), question))
    assert len(offline) == 1 and isinstance(offline[0], Reply) and offline[0].model_path == "offline"

    assistant = components(llm=_model(server, retries=0)).assistant
    # the same question written by the model, streamed
    server.enqueue(kind="stream", chunks=["Die Mahngebühr ", "beträgt 7 EUR ", "[de/late-fee-amounts#0]."])
    events = list(assistant.respond_stream(Conversation(), question))
    *deltas, reply = events
    assert deltas == ["Die Mahngebühr ", "beträgt 7 EUR ", "[de/late-fee-amounts#0]."]
    assert isinstance(reply, Reply) and reply.text == "".join(str(d) for d in deltas)
    assert reply.model_path == "openai:test-model" and "model" in reply.timings_ms
    assert server.calls[-1]["stream"] is True

    server.enqueue(kind="stream_cut", chunks=["Die Mahn"])
    *deltas, reply = list(assistant.respond_stream(Conversation(), question))
    assert deltas == ["Die Mahn"]  # shown, then replaced by the offline answer
    assert isinstance(reply, Reply)
    assert reply.fell_back and reply.model_path == "offline" and reply.text == offline[0].text

    hand_off = list(assistant.respond_stream(Conversation(), "I want to talk to a human please"))
    assert len(hand_off) == 1 and isinstance(hand_off[0], Reply)
    assert hand_off[0].outcome == "escalate"  # not written by the model
