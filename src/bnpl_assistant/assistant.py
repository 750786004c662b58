"""The assistant: one entry point, ``Assistant.respond``, used by the CLI, the page and the eval harness."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from bnpl_assistant.answer import templates
from bnpl_assistant.answer.compose import compose, kb_language
from bnpl_assistant.classify import rules
from bnpl_assistant.classify.exemplars import EmbeddingCache, load_exemplars
from bnpl_assistant.classify.intent import IntentClassifier
from bnpl_assistant.conversation import Conversation, Reply, Source, Turn
from bnpl_assistant.errors import ProviderError, StoreUnavailableError
from bnpl_assistant.kb.topics import TopicCatalog
from bnpl_assistant.kb.validate import load_knowledge
from bnpl_assistant.language import LanguageDetector
from bnpl_assistant.policy import Decision, Signals, Thresholds, decide, load_thresholds
from bnpl_assistant.providers.base import ChatModel, Embedder
from bnpl_assistant.providers.factory import make_chat_model, make_embedder
from bnpl_assistant.redact import redact
from bnpl_assistant.retrieve.hybrid import HybridSearch, Passage, Retrieval
from bnpl_assistant.settings import Settings
from bnpl_assistant.store import VectorStore

log = logging.getLogger(__name__)

FOLLOW_UP_MAX_WORDS = 8
RETRIEVAL_WEIGHT = 0.1


class TurnLog(Protocol):
    def log_turn(self, conversation: Conversation, message: str, reply: Reply) -> int: ...


class HandoffSink(Protocol):
    def open_ticket(self, conversation: Conversation, reply: Reply, message: str) -> str: ...


class ActionHandler(Protocol):
    def handle(self, conversation: Conversation, message: str, language: str,
               vector: np.ndarray) -> Reply | None: ...


@dataclass
class ModelJob:
    """What the chat model gets to write an answer: the question, the passages and the earlier turns, all
    redacted (nothing else leaves the machine)."""

    question: str
    language: str
    passages: list[Passage]
    history: list[Turn]


@dataclass
class Draft:
    """A reply before the chat model (if any) has written its text; the offline text is the fallback."""

    reply: Reply
    job: ModelJob | None = None


@dataclass
class Understanding:
    """What the assistant made of one message, before deciding."""

    text: str
    language: str
    vector: np.ndarray
    topic_ranking: list[tuple[str, float]]
    retrieval: Retrieval
    gate: dict[str, float]
    follow_up: bool


class Assistant:
    def __init__(self, settings: Settings, topics: TopicCatalog, embedder: Embedder, search: HybridSearch,
                 classifier: IntentClassifier, detector: LanguageDetector, llm: ChatModel | None = None,
                 thresholds: Thresholds | None = None, handoffs: HandoffSink | None = None,
                 actions: ActionHandler | None = None, turn_log: TurnLog | None = None) -> None:
        self.settings = settings
        self.topics = topics
        self.embedder = embedder
        self.search = search
        self.classifier = classifier
        self.detector = detector
        self.llm = llm
        self.thresholds = thresholds or load_thresholds()
        self.handoffs = handoffs
        self.actions = actions
        self.log = turn_log

    @classmethod
    def from_settings(cls, settings: Settings, store: VectorStore | None = None,
                      embedder: Embedder | None = None, llm: ChatModel | None = None) -> Assistant:
        """Load everything once: topics, classifier (cached exemplar embeddings), index, models."""
        kb = load_knowledge(settings.knowledge_dir, settings.languages)
        embedder = embedder or make_embedder(settings)
        store = store or VectorStore(settings.index_dir, settings.collection, settings.chroma_url)
        search = HybridSearch(store, embedder.name)
        search.table()  # fail early ("run ingest", "Chroma unreachable"), before the classifier is trained
        if llm is None and settings.llm != "offline":
            llm = make_chat_model(settings)
        exemplars = load_exemplars(kb.articles, kb.topics.ids)
        vectors = EmbeddingCache(settings.cache_dir, embedder).embed([e.text for e in exemplars])
        classifier = IntentClassifier(exemplars, vectors)
        return cls(settings, kb.topics, embedder, search, classifier,
                   LanguageDetector(settings.languages, settings.default_language), llm)

    # -- understanding -------------------------------------------------------------------------------

    def understand(self, conversation: Conversation, text: str, language: str) -> Understanding:
        vector = self.embedder.embed_query(text)
        scores = self.classifier.score(vector, text)
        probs = scores.topic_probs
        gate = scores.gate
        words = len(text.split())
        follow_up = False
        search_text = text
        previous = conversation.last_customer_texts(2)[:-1]  # the current message is already the last
        if previous and conversation.last_topic and words <= FOLLOW_UP_MAX_WORDS and (
                rules.refers_back(text) or float(probs.max()) < 0.5 or gate.get("offtopic", 0) > 0.3):
            # Only now is the second embedding (message in context) worth its ~15 ms.
            context_text = f"{previous[-1]} {text}"
            context_vec = self.embedder.embed_query(context_text)
            context = self.classifier.score(context_vec, context_text)
            follow_up = True
            prior = np.array([1.0 if t == conversation.last_topic else 0.0 for t in scores.topic_ids])
            probs = 0.15 * probs + 0.45 * context.topic_probs + 0.4 * prior
            gate = {k: 0.3 * v + 0.7 * context.gate.get(k, 0.0) for k, v in gate.items()}
            vector = context_vec
            search_text = context_text
        retrieval = self.search.search(search_text, vector, language)
        fused = self._fuse(dict(zip(scores.topic_ids, map(float, probs), strict=True)), retrieval)
        return Understanding(text, language, vector, fused, retrieval, gate, follow_up)

    @staticmethod
    def _fuse(probs: dict[str, float], retrieval: Retrieval) -> list[tuple[str, float]]:
        top = max(retrieval.topic_scores.values(), default=0.0)
        fused = {}
        for topic, p in probs.items():
            r = retrieval.topic_scores.get(topic, 0.0) / top if top else 0.0
            fused[topic] = (p + RETRIEVAL_WEIGHT * r) / (1.0 + RETRIEVAL_WEIGHT)
        return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))

    def retrieve(self, query: str, k: int = 4, language: str | None = None) -> list[Passage]:
        """Passages for ``query``, reranked by the fused topic decision: the best-matching passages of the
        most likely topics first (what the LangChain retriever returns)."""
        lang = language or self.detector.detect(query).language
        u = self.understand(Conversation(), query, lang)
        table = self.search.table()
        out: list[Passage] = []
        for topic, _ in u.topic_ranking[:k]:
            candidates = table.of_topic(topic, kb_language(lang)) or table.of_topic(topic, "en")
            scored = sorted(((float(table.matrix[i] @ u.vector), i) for i in candidates), reverse=True)
            out.extend(table.passage(i, score) for score, i in scored[:2])
            if len(out) >= k:
                break
        return out[:k]

    # -- the entry point -----------------------------------------------------------------------------

    def respond(self, conversation: Conversation, message: str, customer: str | None = None,
                language: str | None = None) -> Reply:
        """Answer one customer message in the context of ``conversation`` (which is updated)."""
        *_, reply = self._turn(conversation, message, customer, language, stream=False)
        assert isinstance(reply, Reply)  # a turn always ends with its reply
        return reply

    def respond_stream(self, conversation: Conversation, message: str, customer: str | None = None,
                       language: str | None = None) -> Iterator[str | Reply]:
        """As :meth:`respond`, as events: the chat model's text deltas as they arrive (OpenAI path), then the
        final :class:`Reply`, always last. Offline, and for every reply the model does not write (account
        actions, hand-offs, refusals), the reply is the only event. If the stream breaks, the final reply is
        the offline answer with ``fell_back`` set, so a front end replaces what it showed with it."""
        return self._turn(conversation, message, customer, language, stream=True)

    def _turn(self, conversation: Conversation, message: str, customer: str | None, language: str | None,
              stream: bool) -> Iterator[str | Reply]:
        started = time.perf_counter()
        timings: dict[str, float] = {}
        if customer is not None:
            conversation.customer_id = customer
        raw = message if isinstance(message, str) else ""
        text = rules.normalise(raw)
        truncated = len(text) > self.settings.max_message_chars
        if truncated:
            text = text[: self.settings.max_message_chars]
        lang_started = time.perf_counter()
        if language and language in self.settings.languages:
            lang = language
        else:
            lang = self.detector.detect(text, previous=conversation.language).language
        timings["language"] = _ms(lang_started)
        conversation.turns.append(Turn("customer", text, lang))

        if not rules.has_words(text):
            draft = Draft(self._fixed("empty", "empty-message", lang))
        else:
            draft = self._respond(conversation, text, lang, timings)
        reply = draft.reply
        if draft.job is not None:
            yield from self._write(draft.job, reply, stream, timings)
        if truncated:
            reply.truncated = True
            reply.note = (reply.note + " " if reply.note else "") + templates.line(
                "truncated", lang, limit=self.settings.max_message_chars)
        reply.timings_ms = {**timings, **reply.timings_ms, "total": _ms(started)}
        conversation.turns.append(Turn("assistant", reply.text, reply.language, reply.topic if
                                       reply.outcome != "refuse" or reply.reason != "low-confidence" else "_unsure",
                                       reply.outcome))
        self._log_turn(conversation, text, reply)
        yield reply

    def _write(self, job: ModelJob, reply: Reply, stream: bool, timings: dict[str, float]) -> Iterator[str]:
        """Let the chat model write ``reply``'s text from the job's passages (streamed when asked); on a
        provider error the offline text stays and the reply records why."""
        assert self.llm is not None  # a job is only made when there is a model
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
            reply.text, reply.model_path, reply.note = text, self.llm.name, ""
            reply.sources = _sources(job.passages)
        except ProviderError as exc:
            log.warning("model failed, answering offline: %s", exc)
            reply.fell_back = True
            reply.fallback_reason = str(exc)
        timings["model"] = _ms(step)

    def hand_off(self, conversation: Conversation, reason: str = "customer-pressed-button",
                 language: str | None = None) -> Reply:
        """Hand the conversation to a person on request (the page's "Talk to a person" button)."""
        started = time.perf_counter()
        lang = language or conversation.language or self.settings.default_language
        team = templates.team_name("customer-care", lang)
        reply = Reply(text="", outcome="escalate", topic=conversation.last_topic, retrieved_topics=[],
                      sources=[], language=lang, confidence=1.0, reason=reason, team="customer-care")
        ticket = self._open_ticket(conversation, reply, "")
        reply.text = (templates.line("escalate", lang, team=team, ticket=ticket) if ticket
                      else templates.line("escalate_no_ticket", lang, team=team))
        reply.timings_ms = {"total": _ms(started)}
        conversation.turns.append(Turn("assistant", reply.text, lang, reply.topic, reply.outcome))
        self._log_turn(conversation, "[pressed: talk to a person]", reply)
        return reply

    def _respond(self, conversation: Conversation, text: str, lang: str, timings: dict[str, float]) -> Draft:
        step = time.perf_counter()
        try:
            u = self.understand(conversation, text, lang)
        except StoreUnavailableError as exc:
            log.warning("store unavailable: %s", exc)
            reply = self._fixed("degraded", "store-unavailable", lang, outcome="escalate")
            reply.team = "customer-care"
            self._open_ticket(conversation, reply, text)
            return Draft(reply)
        timings["understand"] = _ms(step)

        topic, prob = u.topic_ranking[0]
        signals = Signals(
            injection_rule=rules.looks_like_injection(text),
            other_person=rules.asks_for_other_person(text) or bool(rules.mentions_customer_ref(text)),
            human_rule=rules.asks_for_human(text),
            gate=u.gate,
            topic=topic,
            topic_prob=prob,
            dense_top=u.retrieval.dense_top,
            failures=conversation.recent_failures(),
            greeting=rules.is_greeting(text),
            follow_up=u.follow_up,
            commitment=rules.asks_for_commitment(text),
        )
        decision = decide(signals, self.topics, self.thresholds)
        retrieved = [t for t, _ in u.topic_ranking[:5]]
        # Account actions come after the rule-based attack and hand-off checks and before the learned gate:
        # the gate was trained on FAQ-style messages and misreads "show me all my orders" or a bare "yes".
        rule_blocked = signals.injection_rule or signals.other_person or signals.human_rule
        if self.actions is not None and (conversation.pending_action is not None or not rule_blocked):
            step = time.perf_counter()
            acted = self.actions.handle(conversation, text, lang, u.vector)
            timings["act"] = _ms(step)
            if acted is not None:
                acted.retrieved_topics = acted.retrieved_topics or retrieved
                if acted.outcome == "escalate" and not acted.ticket_id:
                    self._open_ticket(conversation, acted, text)
                return Draft(acted)
        step = time.perf_counter()
        draft = self._render(conversation, decision, u, retrieved, prob)
        timings["compose"] = _ms(step)
        return draft

    # -- rendering the decision ----------------------------------------------------------------------

    def _render(self, conversation: Conversation, decision: Decision, u: Understanding, retrieved: list[str],
                confidence: float) -> Draft:
        lang = u.language
        if decision.outcome == "refuse" and decision.reason == "commitment-request":
            reply = self._fixed("no_promises", decision.reason, lang)
            reply.retrieved_topics, reply.confidence = retrieved, confidence
            composition = compose(decision.topic, lang, u.vector, self.search.table()) if decision.topic else None
            if composition is not None:  # what the policy says, grounded and cited; no promise added
                reply.text += "\n\n" + composition.passages[0].text
                reply.sources = _sources(composition.passages[:1])
            return Draft(reply)
        if decision.outcome == "refuse":
            key = {"injection": "injection", "greeting": "greeting"}.get(decision.reason, "offtopic")
            reply = self._fixed(key, decision.reason, lang)
            reply.retrieved_topics = retrieved
            reply.confidence = confidence
            reply.topic = None
            return Draft(reply)
        if decision.outcome == "escalate":
            return Draft(self._escalate(conversation, decision, u, retrieved, confidence))
        assert decision.topic is not None  # an "answer" decision always names its topic
        return self._answer(conversation, decision.topic, u, retrieved, confidence)

    def _answer(self, conversation: Conversation, topic: str, u: Understanding, retrieved: list[str],
                confidence: float) -> Draft:
        table = self.search.table()
        composition = compose(topic, u.language, u.vector, table)
        if composition is None:
            return Draft(self._escalate(conversation, Decision("escalate", topic, "no-article", "customer-care"),
                                        u, retrieved, confidence))
        note = ""
        if kb_language(u.language) != u.language:
            note = templates.line("fallback_note", u.language)
        reply = Reply(
            text=composition.text,
            outcome="answer",
            topic=topic,
            retrieved_topics=retrieved,
            sources=_sources(composition.passages),
            language=u.language,
            confidence=confidence,
            reason="faq",
            note=note,
        )
        if self.llm is None:
            return Draft(reply)
        passages = composition.passages + [p for p in u.retrieval.passages[:4]
                                           if p.id not in {c.id for c in composition.passages}]
        # Redaction runs before anything leaves the machine: card numbers, IBANs, e-mails, phones.
        history = [Turn(t.role, redact(t.text), t.language, t.topic, t.outcome) for t in conversation.turns[:-1]]
        return Draft(reply, ModelJob(redact(u.text), u.language, passages, history))

    def _escalate(self, conversation: Conversation, decision: Decision, u: Understanding,
                  retrieved: list[str], confidence: float) -> Reply:
        team = templates.team_name(decision.team, u.language)
        reply = Reply(
            text="",
            outcome="escalate",
            topic=decision.topic,
            retrieved_topics=retrieved,
            sources=[],
            language=u.language,
            confidence=confidence,
            reason=decision.reason,
            team=decision.team,
        )
        ticket = self._open_ticket(conversation, reply, u.text)
        parts = [templates.line("escalate", u.language, team=team, ticket=ticket) if ticket
                 else templates.line("escalate_no_ticket", u.language, team=team)]
        topic = self.topics.get(decision.topic)
        if topic is not None and topic.outcome == "escalate":
            composition = compose(topic.id, u.language, u.vector, self.search.table())
            if composition is not None:
                lead = composition.passages[0]
                parts.append(f"{templates.line('meanwhile', u.language)}\n{lead.text}")
                reply.sources = _sources([lead])
        reply.text = "\n\n".join(parts)
        return reply

    def _log_turn(self, conversation: Conversation, message: str, reply: Reply) -> None:
        if self.log is None:
            return
        try:
            reply.turn_id = self.log.log_turn(conversation, message, reply)
        except Exception as exc:  # noqa: BLE001 - a log failure must not lose the customer's answer
            log.error("could not log turn of %s: %s", conversation.id, exc)

    def _open_ticket(self, conversation: Conversation, reply: Reply, message: str) -> str | None:
        if self.handoffs is None:
            return None
        reply.ticket_id = self.handoffs.open_ticket(conversation, reply, message)
        return reply.ticket_id

    def _fixed(self, key: str, reason: str, lang: str, outcome: str = "refuse") -> Reply:
        return Reply(text=templates.line(key, lang), outcome=outcome, topic=None, retrieved_topics=[],
                     sources=[], language=lang, confidence=0.0, reason=reason)


def _sources(passages: list[Passage]) -> list[Source]:
    seen: dict[tuple[str, str], Source] = {}
    for p in passages:
        key = (p.language, p.article_id)
        text = f"{p.heading}\n{p.text}" if p.heading else p.text
        if key not in seen:
            seen[key] = Source(p.article_id, p.title, p.language, text)
        else:
            seen[key].passage += "\n\n" + text
    return list(seen.values())


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


def reply_summary(reply: Reply) -> dict[str, Any]:
    """The fields of a reply that the eval results contract names."""
    return {
        "outcome": reply.outcome,
        "topic": reply.topic,
        "retrieved_topics": reply.retrieved_topics,
        "language": reply.language,
        "reply": reply.text,
        "sources": [s.id for s in reply.sources],
    }
