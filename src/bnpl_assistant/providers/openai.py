"""The OpenAI provider: the only module that talks to OpenAI or an OpenAI-compatible server (vLLM,
llama.cpp, Ollama via ``OPENAI_BASE_URL``), through langchain-openai: the chat model and the embedder.

Retries are bounded and only for what is worth retrying (timeouts, connection errors, 429, 5xx); after
that a :class:`ProviderError` lets the assistant answer offline and record that it fell back. A circuit
breaker (``providers.breaker``) counts failed calls: after three in a row it stops calling the provider for
30 s (calls fail fast with "circuit open ..."), then lets one probe call through.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import SecretStr

from bnpl_assistant.answer import templates
from bnpl_assistant.conversation import Turn
from bnpl_assistant.errors import ConfigError, ProviderError
from bnpl_assistant.providers.base import STREAM, SUMMARIES, TOOLS, Capability
from bnpl_assistant.providers.breaker import CircuitBreaker
from bnpl_assistant.redact import redact
from bnpl_assistant.settings import Settings

if TYPE_CHECKING:
    from bnpl_assistant.retrieve.hybrid import Passage

log = logging.getLogger(__name__)

LANGUAGE_NAMES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish", "sv": "Swedish",
                  "nl": "Dutch", "it": "Italian", "pl": "Polish"}
HISTORY_TURNS = 6  # the last turns of the conversation that go with a question
ACCOUNT_REPLY_PLACEHOLDER = "[account details shown to the customer; not shared with the model]"
BREAKER_FAILURES = 3  # consecutive failed calls (each after its bounded retries) that open the breaker
BREAKER_COOLDOWN_S = 30.0
SUMMARY_MAX_CHARS = 600
SERVER_ERROR = 500  # this status and above are retried


@cache
def _prompt_text(name: str) -> str:
    return resources.files("bnpl_assistant").joinpath(f"data/prompts/{name}").read_text(encoding="utf-8")


def _prompt(name: str) -> str:
    """A model prompt, with the pack's company name in it."""
    return templates.with_company(_prompt_text(name))


def _api_key(settings: Settings) -> SecretStr:
    """The configured key; a local OpenAI-compatible server (``OPENAI_BASE_URL``) needs none, but the client
    wants one."""
    return settings.openai_api_key or SecretStr("not-needed")


def _retryable(exc: Exception) -> bool:
    import openai

    if isinstance(exc, openai.APITimeoutError | openai.APIConnectionError | openai.RateLimitError):
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code >= SERVER_ERROR
    return False


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return min(float(value), 10.0) if value else None
    except ValueError:
        return None


class OpenAIChatModel:
    """Writes grounded replies from retrieved passages with a chat model; streams tokens when asked, picks
    account tools by function calling and writes hand-off summaries (see ``capabilities``)."""

    capabilities: frozenset[Capability] = frozenset({STREAM, TOOLS, SUMMARIES})

    def __init__(self, settings: Settings, model: str, client: Any = None,
                 breaker: CircuitBreaker | None = None) -> None:
        if settings.openai_api_key is None and not settings.openai_base_url:
            raise ConfigError("BNPL_LLM=openai:... needs OPENAI_API_KEY (or OPENAI_BASE_URL for a local "
                              "OpenAI-compatible server); or use BNPL_LLM=offline")
        self.name = f"openai:{model}"
        self.model = model
        self.max_retries = settings.llm_max_retries
        self.backoff_s = 0.2
        if client is None:
            from langchain_openai import ChatOpenAI

            client = ChatOpenAI(model=model, api_key=_api_key(settings), base_url=settings.openai_base_url,
                                timeout=settings.llm_timeout_s, max_retries=0, temperature=0)
        self.client = client
        self.breaker = breaker or CircuitBreaker(self.name, BREAKER_FAILURES, BREAKER_COOLDOWN_S)

    def _messages(self, question: str, language: str, passages: list[Passage],
                  history: list[Turn]) -> list[tuple[str, str]]:
        block = "\n\n".join(f"[{p.id}] {p.title}\n{p.text}" for p in passages)
        system = _prompt("system.txt").format(language=LANGUAGE_NAMES.get(language, language), passages=block)
        return _conversation(system, history, question)

    def _with_retries(self, call: Any) -> Any:
        attempt = 0
        while True:
            try:
                return call()
            except Exception as exc:  # any error: classified below
                attempt += 1
                if not _retryable(exc) or attempt > self.max_retries:
                    raise ProviderError(f"{self.name} failed after {attempt} attempt(s): "
                                        f"{type(exc).__name__}: {exc}") from exc
                delay = _retry_after(exc) or self.backoff_s * (2 ** (attempt - 1))
                log.info("retrying %s in %.2fs after %s", self.name, delay, type(exc).__name__)
                time.sleep(delay)

    def answer(self, question: str, language: str, passages: list[Passage], history: list[Turn]) -> str:
        """The model's reply text.

        Raises:
            ProviderError: retries exhausted, a non-retryable error, an empty completion, or the circuit
                breaker is open (then the provider was not called at all).
        """
        messages = self._messages(question, language, passages, history)

        def call() -> str:
            result = self._with_retries(lambda: self.client.invoke(messages))
            text = str(getattr(result, "content", "") or "").strip()
            if not text:
                calls = len(getattr(result, "tool_calls", None) or [])
                broken = len(getattr(result, "invalid_tool_calls", None) or [])
                if calls or broken:  # we offer no tools: a tool call is a provider fault, not an answer
                    raise ProviderError(f"{self.name} returned a tool call instead of a reply "
                                        f"({broken} with invalid arguments)")
                raise ProviderError(f"{self.name} returned an empty completion")
            return text

        return self.breaker.call(call)

    def choose_tool(self, question: str, language: str, history: list[Turn],
                    tools: list[dict[str, Any]]) -> tuple[str, dict[str, Any]] | None:
        """Function calling: the account tool the model picks for ``question`` and its arguments, or None
        when the model answers in text (not a request about the customer's own account).

        Raises:
            ProviderError: as :meth:`answer`, and for a tool call whose arguments are not valid JSON.
        """
        system = _prompt("tools.txt").format(language=LANGUAGE_NAMES.get(language, language))
        messages = _conversation(system, history, question)
        bound = self.client.bind_tools(tools, tool_choice="auto")

        def call() -> tuple[str, dict[str, Any]] | None:
            result = self._with_retries(lambda: bound.invoke(messages))
            calls = getattr(result, "tool_calls", None) or []
            if calls:
                return str(calls[0]["name"]), dict(calls[0].get("args") or {})
            if getattr(result, "invalid_tool_calls", None):
                raise ProviderError(f"{self.name} returned a tool call with invalid arguments")
            return None

        return self.breaker.call(call)

    def summarise(self, transcript: list[dict[str, Any]]) -> str:
        """A short hand-off summary of a (redacted) transcript for the agent who takes it over.

        Raises:
            ProviderError: as :meth:`answer`.
        """
        turns = [Turn(str(t.get("role", "")), str(t.get("text", "")), outcome=t.get("outcome"))
                 for t in transcript[-2 * HISTORY_TURNS:]]
        lines = [f"{'Customer' if role == 'human' else 'Assistant'}: {text}" for role, text in _history(turns)]
        messages = [("system", _prompt("handoff_summary.txt")), ("human", "\n".join(lines))]

        def call() -> str:
            result = self._with_retries(lambda: self.client.invoke(messages))
            text = str(getattr(result, "content", "") or "").strip()
            if not text:
                raise ProviderError(f"{self.name} returned an empty summary")
            return text[:SUMMARY_MAX_CHARS]

        return self.breaker.call(call)

    def draft_article(self, questions: list[str], replies: list[str], language: str) -> str:
        """The body of a draft help-center article from customers' (redacted) questions and agents' replies,
        for a person to review (``bnpl-assistant gaps``).

        Raises:
            ProviderError: as :meth:`answer`.
        """
        body = ("Language: " + LANGUAGE_NAMES.get(language, language) + "\n\nQuestions:\n"
                + "\n".join(f"- {q}" for q in questions) + "\n\nAgents' replies:\n"
                + "\n".join(f"- {r}" for r in replies))
        messages = [("system", _prompt("draft_article.txt")), ("human", body)]

        def call() -> str:
            result = self._with_retries(lambda: self.client.invoke(messages))
            text = str(getattr(result, "content", "") or "").strip()
            if not text:
                raise ProviderError(f"{self.name} returned an empty draft")
            return text[:4000]

        return self.breaker.call(call)

    def stream(self, question: str, language: str, passages: list[Passage],
               history: list[Turn]) -> Iterator[str]:
        """Token deltas. Connection set-up is retried; a stream cut mid-reply raises ProviderError."""
        messages = self._messages(question, language, passages, history)
        probe = self.breaker.before_call()
        outcome = "abandoned"  # a consumer that stops reading early is neither a success nor a failure
        try:
            yield from self._stream(messages)
            outcome = "ok"
        except ProviderError:
            outcome = "failed"
            raise
        finally:
            if outcome == "ok":
                self.breaker.record_success(probe)
            elif outcome == "failed":
                self.breaker.record_failure(probe)
            else:
                self.breaker.release(probe)

    def _stream(self, messages: list[tuple[str, str]]) -> Iterator[str]:
        iterator = self._with_retries(lambda: iter(self.client.stream(messages)))
        got_any = finished = False
        try:
            for chunk in iterator:
                delta = str(getattr(chunk, "content", "") or "")
                finished = finished or bool((getattr(chunk, "response_metadata", None) or {}).get("finish_reason"))
                if delta:
                    got_any = True
                    yield delta
        except Exception as exc:  # any error: the stream broke after it started
            raise ProviderError(f"{self.name} stream broke: {type(exc).__name__}: {exc}") from exc
        if not got_any:
            raise ProviderError(f"{self.name} returned an empty completion")
        if not finished:
            raise ProviderError(f"{self.name} stream ended before the reply was finished")


def _conversation(system: str, history: list[Turn], question: str) -> list[tuple[str, str]]:
    """The system prompt, the last turns and the (redacted) question, as chat messages."""
    return [("system", system), *_history(history[-HISTORY_TURNS:]), ("human", redact(question))]


def _history(turns: list[Turn]) -> list[tuple[str, str]]:
    """Earlier turns as chat messages. This is the last stop before the provider: redact again (idempotent)
    whoever the caller is, and keep account replies (orders, amounts, dates read from the accounts database)
    on the machine."""
    messages = []
    for turn in turns:
        if turn.role == "customer":
            messages.append(("human", redact(turn.text)))
        else:
            messages.append(("ai", ACCOUNT_REPLY_PLACEHOLDER if turn.outcome == "act" else redact(turn.text)))
    return messages


class OpenAIEmbedder:
    """OpenAI embeddings (e.g. text-embedding-3-small) as an :class:`~bnpl_assistant.providers.base.Embedder`."""

    def __init__(self, settings: Settings, model: str) -> None:
        if settings.openai_api_key is None and not settings.openai_base_url:
            raise ConfigError("BNPL_EMBEDDER=openai:... needs OPENAI_API_KEY or OPENAI_BASE_URL")
        from langchain_openai import OpenAIEmbeddings

        self.name = f"openai:{model}"
        self._client = OpenAIEmbeddings(model=model, api_key=_api_key(settings),
                                        base_url=settings.openai_base_url, check_embedding_ctx_length=False)

    def embed_query(self, text: str) -> np.ndarray:
        """The unit query vector of ``text``, which is redacted first (customer messages are queries)."""
        return _unit(np.asarray(self._client.embed_query(redact(text)), dtype=np.float32))

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Unit query vectors of ``texts`` (each redacted first), one row each, in batched requests."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        vectors = self._client.embed_documents([redact(t) for t in texts])  # the same endpoint, batched
        return np.stack([_unit(np.asarray(v, dtype=np.float32)) for v in vectors])

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """Unit passage vectors of ``texts`` (knowledge-base passages), one row each."""
        return np.stack([_unit(np.asarray(v, dtype=np.float32)) for v in self._client.embed_documents(texts)])


def _unit(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    return v / norm if norm else v
