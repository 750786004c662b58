"""The assistant: one entry point, ``Assistant.respond``, used by the CLI, the page and the eval harness.

One turn reads top to bottom in :meth:`Assistant._turn`: understand (computed once) -> decide (the policy owns
the whole order) -> act | answer -> write (the chat model, when there is one) -> log. Every ``Reply`` is built
once per path and frozen; the steps after it (the model's text, the ticket, the timings, the log's id) make a
new record with ``dataclasses.replace``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator, Iterator
from dataclasses import replace
from typing import Any, Protocol

import numpy as np

from bnpl_assistant.answer import templates
from bnpl_assistant.answer.replies import Draft, ModelJob, ReplyWriter, fixed, handoff_line, sources_of
from bnpl_assistant.classify import rules
from bnpl_assistant.conversation import Conversation, Reply, Turn
from bnpl_assistant.errors import ProviderError, StoreUnavailableError
from bnpl_assistant.kb.topics import TopicCatalog
from bnpl_assistant.language import LanguageDetector
from bnpl_assistant.languages import FALLBACK, knowledge_language
from bnpl_assistant.policy import Decision, Signals, Thresholds, decide, may_act
from bnpl_assistant.providers.base import ChatModel
from bnpl_assistant.retrieve.articles import ArticleQuestions
from bnpl_assistant.retrieve.hybrid import Passage
from bnpl_assistant.settings import Settings
from bnpl_assistant.understand import Understander, Understanding

log = logging.getLogger(__name__)

UNSURE = "_unsure"  # the topic a low-confidence refusal leaves in the history (counts repeated failures)


class TurnLog(Protocol):
    def log_turn(self, conversation: Conversation, message: str, reply: Reply) -> int: ...


class HandoffSink(Protocol):
    def open_ticket(self, conversation: Conversation, reply: Reply, message: str) -> str: ...


class AccountDialogue(Protocol):
    """The account agent (``act.agent.AccountAgent``): plans without side effects, then performs."""

    def plan(self, conversation: Conversation, text: str, language: str, vector: np.ndarray) -> Any | None: ...

    def perform(self, conversation: Conversation, plan: Any) -> Reply: ...

    def confirms(self, text: str) -> bool:
        """A yes to a yes/no question."""


class Assistant:
    """Answers customer messages; every collaborator comes through the constructor (see ``wiring.build``)."""

    def __init__(self, settings: Settings, topics: TopicCatalog, understander: Understander,
                 detector: LanguageDetector, *, llm: ChatModel | None = None, thresholds: Thresholds | None = None,
                 handoffs: HandoffSink | None = None, agent: AccountDialogue | None = None,
                 turn_log: TurnLog | None = None, articles: ArticleQuestions | None = None) -> None:
        self.settings = settings
        self.topics = topics
        self.understander = understander
        self.detector = detector
        self.llm = llm
        self.thresholds = thresholds or understander.thresholds
        self.handoffs = handoffs
        self.agent = agent
        self.log = turn_log
        self.writer = ReplyWriter(topics, understander.search, articles)

    @property
    def embedder(self) -> Any:
        return self.understander.embedder

    @property
    def classifier(self) -> Any:
        return self.understander.classifier

    @property
    def search(self) -> Any:
        return self.understander.search

    # -- entry points --------------------------------------------------------------------------------

    def respond(self, conversation: Conversation, message: str, customer: str | None = None,
                language: str | None = None) -> Reply:
        """Answer one customer message in the context of ``conversation`` (which is updated)."""
        *_, reply = self._turn(conversation, message, customer, language, stream=False)
        if not isinstance(reply, Reply):  # a turn always ends with its reply
            raise TypeError("a turn ended without a reply")
        return reply

    def respond_stream(self, conversation: Conversation, message: str, customer: str | None = None,
                       language: str | None = None) -> Iterator[str | Reply]:
        """As :meth:`respond`, as events: the chat model's text deltas as they arrive (OpenAI path), then the
        final :class:`Reply`, always last. Offline, and for every reply the model does not write (account
        actions, hand-offs, refusals), the reply is the only event. If the stream breaks, the final reply is
        the offline answer with ``fell_back`` set, so a front end replaces what it showed with it."""
        return self._turn(conversation, message, customer, language, stream=True)

    def hand_off(self, conversation: Conversation, reason: str = "customer-pressed-button",
                 language: str | None = None) -> Reply:
        """Hand the conversation to a person on request (the page's "Talk to a person" button)."""
        started = time.perf_counter()
        lang = language or conversation.language or self.settings.default_language
        request = Reply(text="", outcome="escalate", topic=conversation.last_topic, retrieved_topics=[],
                        sources=[], language=lang, confidence=1.0, reason=reason, team="customer-care")
        ticket = self._open_ticket(conversation, request, "")
        reply = replace(request, text=handoff_line("customer-care", lang, ticket), ticket_id=ticket,
                        timings_ms={"total": _ms(started)})
        conversation.turns.append(Turn("assistant", reply.text, lang, reply.topic, reply.outcome))
        return self._log_turn(conversation, "[pressed: talk to a person]", reply)

    def suggest(self, conversation: Conversation, text: str) -> str:
        """A draft reply to ``text`` for the agent who took the conversation over: the knowledge base's answer
        for its most likely topic (written by the chat model when one is configured, else the composer's).
        No side effects: nothing is logged, no ticket opened, no account touched. Empty when nothing fits."""
        lang = conversation.language or self.detector.detect(text).language
        try:
            u = self.understander.understand(conversation, rules.normalise(text), lang)
        except StoreUnavailableError:
            return ""
        topic = u.top[0]
        composition = self.writer.compose(topic, u) if topic in self.topics else None
        if composition is None:
            return ""
        if self.llm is not None:
            job = self.writer.model_job(composition, u, conversation)
            try:
                return self.llm.answer(job.question, job.language, job.passages, job.history)
            except ProviderError as exc:
                log.warning("model failed, suggesting the offline answer: %s", exc)
        return composition.text

    def retrieve(self, query: str, k: int = 4, language: str | None = None) -> list[Passage]:
        """Passages for ``query``, reranked by the fused topic decision: the best-matching passages of the
        most likely topics first (what the LangChain retriever returns)."""
        lang = language or self.detector.detect(query).language
        u = self.understander.understand(Conversation(), query, lang)
        table = self.search.table()
        out: list[Passage] = []
        for topic, _ in u.topic_ranking[:k]:
            candidates = table.of_topic(topic, knowledge_language(lang)) or table.of_topic(topic, FALLBACK)
            scored = sorted(((float(table.matrix[i] @ u.vector), i) for i in candidates), reverse=True)
            out.extend(table.passage(i, score) for score, i in scored[:2])
            if len(out) >= k:
                break
        return out[:k]

    # -- the turn ------------------------------------------------------------------------------------

    def _turn(self, conversation: Conversation, message: str, customer: str | None, language: str | None,
              stream: bool) -> Iterator[str | Reply]:
        started = time.perf_counter()
        timings: dict[str, float] = {}
        if customer is not None:
            conversation.customer_id = customer
        text = rules.normalise(message if isinstance(message, str) else "")
        truncated = len(text) > self.settings.max_message_chars
        if truncated:
            text = text[: self.settings.max_message_chars]
        step = time.perf_counter()
        lang = language if language and language in self.settings.languages else \
            self.detector.detect(text, previous=conversation.language).language
        timings["language"] = _ms(step)
        conversation.turns.append(Turn("customer", text, lang))

        if not text.strip():
            draft = Draft(fixed("empty", "empty-message", lang))
        elif not rules.has_words(text):  # emoji, punctuation, digits only: ask what they need
            draft = Draft(fixed("no_words", "no-words", lang))
        else:
            draft = self._decide_and_act(conversation, text, lang, timings)
        reply = draft.reply
        if draft.job is not None:
            reply = yield from self._write(draft.job, reply, stream, timings)
        note = reply.note
        if truncated:
            limit_line = templates.line("truncated", lang, limit=self.settings.max_message_chars)
            note = f"{note} {limit_line}" if note else limit_line
        reply = replace(reply, truncated=truncated or reply.truncated, note=note,
                        timings_ms={**timings, **reply.timings_ms, "total": _ms(started)})
        unsure = reply.outcome == "refuse" and reply.reason == "low-confidence"
        conversation.turns.append(Turn("assistant", reply.text, reply.language, UNSURE if unsure else reply.topic,
                                       reply.outcome, reply.tool))
        yield self._log_turn(conversation, text, reply)

    def _decide_and_act(self, conversation: Conversation, text: str, lang: str,
                        timings: dict[str, float]) -> Draft:
        step = time.perf_counter()
        try:
            u = self.understander.understand(conversation, text, lang)
        except StoreUnavailableError as exc:
            log.warning("store unavailable: %s", exc)
            request = fixed("degraded", "store-unavailable", lang, outcome="escalate", team="customer-care")
            return Draft(replace(request, ticket_id=self._open_ticket(conversation, request, text)))
        timings["understand"] = _ms(step)
        waiting = conversation.pending_action is not None
        plan = self._plan_account(conversation, u, timings)
        stray_yes = plan is None and not waiting and self.agent is not None and self.agent.confirms(text)
        decision = decide(self._signals(conversation, u, plan is not None, stray_yes), self.topics, self.thresholds)
        if decision.outcome == "act":
            step = time.perf_counter()
            reply = self._act(conversation, plan, u)
            timings["act"] = timings.get("act", 0.0) + _ms(step)  # planning + performing
            return Draft(reply)
        step = time.perf_counter()
        draft = self._answer(conversation, decision, u)
        timings["compose"] = _ms(step)
        return draft

    def _plan_account(self, conversation: Conversation, u: Understanding, timings: dict[str, float]) -> Any | None:
        """The account agent's plan, when the policy lets it see the message; a pending confirmation or
        clarification lives exactly one customer turn."""
        if self.agent is None:
            return None
        if not may_act(u.rules.blocks_actions, conversation.pending_action is not None):
            return None  # nothing is pending here: may_act always lets a pending question through
        step = time.perf_counter()
        plan = self.agent.plan(conversation, u.text, u.language, u.vector)
        timings["act"] = _ms(step)
        if plan is None:
            conversation.pending_action = None
        return plan

    @staticmethod
    def _signals(conversation: Conversation, u: Understanding, account: bool, stray_yes: bool) -> Signals:
        topic, prob = u.top
        return Signals(
            injection_rule=u.rules.injection, other_person=u.rules.other_person, human_rule=u.rules.human,
            gate=u.gate, topic=topic, topic_prob=prob, dense_top=u.retrieval.dense_top,
            failures=conversation.recent_failures(), greeting=u.rules.greeting, follow_up=u.follow_up,
            commitment=u.rules.commitment, account=account, third_party=u.rules.third_party,
            quoted_instructions=u.rules.quoted_instructions, staff_pretext=u.rules.staff_pretext,
            stray_confirmation=stray_yes, out_of_scope=u.out_of_scope)

    def _act(self, conversation: Conversation, plan: Any, u: Understanding) -> Reply:
        if self.agent is None:  # the policy only says "act" when the agent made a plan
            raise RuntimeError("an act decision without an account agent")
        reply = self.agent.perform(conversation, plan)
        if not reply.retrieved_topics:
            reply = replace(reply, retrieved_topics=u.retrieved)
        if reply.outcome == "escalate" and not reply.ticket_id:
            reply = replace(reply, ticket_id=self._open_ticket(conversation, reply, u.text))
        return reply

    def _answer(self, conversation: Conversation, decision: Decision, u: Understanding) -> Draft:
        if decision.outcome == "refuse":
            return Draft(self.writer.refusal(decision, u))
        if decision.outcome == "answer" and decision.topic is not None:
            composition = self.writer.compose(decision.topic, u)
            if composition is not None:
                reply = self.writer.answer(decision.topic, composition, u)
                job = self.writer.model_job(composition, u, conversation) if self.llm is not None else None
                return Draft(reply, job)
            topic = self.topics.get(decision.topic)
            if topic is not None and topic.answer:  # a pack topic with a short answer and no article
                return Draft(self.writer.topic_answer(topic, u))
            decision = Decision("escalate", decision.topic, "no-article", "customer-care")
        ticket = self._open_ticket(conversation, self.writer.ticket_request(decision, u), u.text)
        return Draft(self.writer.escalation(decision, u, ticket))

    def _write(self, job: ModelJob, reply: Reply, stream: bool,
               timings: dict[str, float]) -> Generator[str, None, Reply]:
        """Let the chat model write ``reply``'s text from the job's passages (streamed when asked); on a
        provider error the offline text stays and the reply records why. Returns the written reply."""
        if self.llm is None:
            return reply
        step = time.perf_counter()
        try:
            if stream:
                parts: list[str] = []
                for delta in self.llm.stream(job.question, job.language, job.passages, job.history):
                    parts.append(delta)
                    yield delta
                text = "".join(parts)
            else:
                text = self.llm.answer(job.question, job.language, job.passages, job.history)
            written = replace(reply, text=text, model_path=self.llm.name, note="", sources=sources_of(job.passages))
        except ProviderError as exc:
            log.warning("model failed, answering offline: %s", exc)
            written = replace(reply, fell_back=True, fallback_reason=str(exc))
        timings["model"] = _ms(step)
        return written

    # -- side effects --------------------------------------------------------------------------------

    def _log_turn(self, conversation: Conversation, message: str, reply: Reply) -> Reply:
        """The reply with the log's turn id (unchanged when there is no log or it fails)."""
        if self.log is None:
            return reply
        try:
            return replace(reply, turn_id=self.log.log_turn(conversation, message, reply))
        except Exception as exc:  # noqa: BLE001 - a log failure must not lose the customer's answer
            log.error("could not log turn of %s: %s", conversation.id, exc)
            return reply

    def _open_ticket(self, conversation: Conversation, request: Reply, message: str) -> str | None:
        if self.handoffs is None:
            return None
        return self.handoffs.open_ticket(conversation, request, message)


def warm_up(assistant: Assistant) -> None:
    """Load now what turns load on first use: lingua's models, and for each knowledge-base language its
    classifier, BM25 index and sentence lexicon (an article title of that language understood and composed,
    with no side effect and no chat model). A server calls this before it takes traffic, so the first
    customers in each language do not pay for it (measured before it existed: 200 page replies cost 46 ms of
    server CPU each as a server's first load, 39 ms when a warm server got them); a one-shot ``ask`` does not (it
    would load languages it never uses). A vector
    store that cannot be reached leaves the rest to the first turns."""
    assistant.detector.warm()
    try:
        titles: dict[str, str] = {}
        for chunk in assistant.search.table().chunks:
            titles.setdefault(str(chunk.metadata["language"]), str(chunk.metadata["title"]))
        for language, title in titles.items():
            u = assistant.understander.understand(Conversation(), rules.normalise(title), language)
            if u.top[0] in assistant.topics:
                assistant.writer.compose(u.top[0], u)
    except StoreUnavailableError as exc:
        log.warning("not warmed up (the vector store cannot be reached): %s", exc)


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)

