"""Decision -> reply: the texts of refusals, hand-offs and FAQ answers, built once from templates and cited
passages (the offline composer), plus the job a chat model gets when one writes the answer instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from bnpl_assistant.answer import templates
from bnpl_assistant.answer.compose import Composition, Question, compose
from bnpl_assistant.conversation import Conversation, Outcome, Reply, Source, Turn
from bnpl_assistant.kb.topics import Topic, TopicCatalog
from bnpl_assistant.languages import knowledge_language
from bnpl_assistant.policy import Decision
from bnpl_assistant.redact import redact
from bnpl_assistant.retrieve.articles import ArticleQuestions
from bnpl_assistant.retrieve.hybrid import HybridSearch, Passage
from bnpl_assistant.understand import Understanding

REFUSAL_TEMPLATES = {"injection": "injection", "greeting": "greeting", "third-party": "third_party",
                     "quoted-instructions": "quoted_injection", "nothing-to-confirm": "nothing_to_confirm"}
# every other refusal: "offtopic"
MODEL_EXTRA_PASSAGES = 4  # retrieved passages the chat model gets beside the composer's


@dataclass(frozen=True)
class ModelJob:
    """What the chat model gets to write an answer: the question, the passages and the earlier turns, all
    redacted (nothing else leaves the machine)."""

    question: str
    language: str
    passages: list[Passage]
    history: list[Turn]


@dataclass(frozen=True)
class Draft:
    """A reply before the chat model (if any) has written its text; the offline text is the fallback."""

    reply: Reply
    job: ModelJob | None = None


def fixed(key: str, reason: str, language: str, outcome: Outcome = "refuse", *, team: str | None = None,
          topic: str | None = None, retrieved: list[str] | None = None, confidence: float = 0.0) -> Reply:
    """A reply that is one template line."""
    return Reply(text=templates.line(key, language), outcome=outcome, topic=topic, retrieved_topics=retrieved or [],
                 sources=[], language=language, confidence=confidence, reason=reason, team=team)


def sources_of(passages: list[Passage]) -> list[Source]:
    """The cited articles of ``passages`` in order, each with the text of its passages used."""
    texts: dict[tuple[str, str], list[str]] = {}
    first: dict[tuple[str, str], Passage] = {}
    for p in passages:
        key = (p.language, p.article_id)
        texts.setdefault(key, []).append(f"{p.heading}\n{p.text}" if p.heading else p.text)
        first.setdefault(key, p)
    return [Source(p.article_id, p.title, p.language, "\n\n".join(texts[key])) for key, p in first.items()]


def handoff_line(team: str | None, language: str, ticket: str | None) -> str:
    """"I'm passing this to our ... team" with the ticket number when there is one."""
    name = templates.team_name(team, language)
    if ticket:
        return templates.line("escalate", language, team=name, ticket=ticket)
    return templates.line("escalate_no_ticket", language, team=name)


class ReplyWriter:
    """Turns the policy's decision into the reply's text and sources."""

    def __init__(self, topics: TopicCatalog, search: HybridSearch, articles: ArticleQuestions | None = None) -> None:
        self.topics = topics
        self.search = search
        self.articles = articles

    def compose(self, topic: str, u: Understanding) -> Composition | None:
        return compose(topic, Question(u.text, u.language, u.vector), self.search.table(), self.articles)

    def refusal(self, decision: Decision, u: Understanding) -> Reply:
        """Attacks, greetings, off-topic and not-understood messages; a request for a promise gets what the
        policy says, grounded and cited, with no promise added."""
        confidence = u.top[1]
        if decision.reason == "commitment-request":
            composition = self.compose(decision.topic, u) if decision.topic else None
            text = templates.line("no_promises", u.language)
            sources: list[Source] = []
            if composition is not None:
                text += "\n\n" + composition.passages[0].text
                sources = sources_of(composition.passages[:1])
            return Reply(text=text, outcome="refuse", topic=None, retrieved_topics=u.retrieved, sources=sources,
                         language=u.language, confidence=confidence, reason=decision.reason)
        key = REFUSAL_TEMPLATES.get(decision.reason, "offtopic")
        return fixed(key, decision.reason, u.language, retrieved=u.retrieved, confidence=confidence)

    @staticmethod
    def ticket_request(decision: Decision, u: Understanding) -> Reply:
        """What the hand-off ticket is opened from (team, topic, reason, language), before its number is known
        and without the reply's text, so the composer runs once, for :meth:`escalation`."""
        return Reply(text="", outcome="escalate", topic=decision.topic, retrieved_topics=u.retrieved, sources=[],
                     language=u.language, confidence=u.top[1], reason=decision.reason, team=decision.team)

    def escalation(self, decision: Decision, u: Understanding, ticket: str | None) -> Reply:
        """The hand-off line (with the ticket) and, for a topic that always goes to a person, what the
        customer can do right away from its article."""
        parts = [handoff_line(decision.team, u.language, ticket)]
        sources: list[Source] = []
        topic = self.topics.get(decision.topic)
        if topic is not None and topic.outcome == "escalate":
            composition = self.compose(topic.id, u)
            if composition is not None:
                lead = composition.passages[0]
                parts.append(f"{templates.line('meanwhile', u.language)}\n{lead.text}")
                sources = sources_of([lead])
        return Reply(text="\n\n".join(parts), outcome="escalate", topic=decision.topic, retrieved_topics=u.retrieved,
                     sources=sources, language=u.language, confidence=u.top[1], reason=decision.reason,
                     team=decision.team, ticket_id=ticket)

    def answer(self, topic: str, composition: Composition, u: Understanding) -> Reply:
        """The composer's grounded answer, with the one-line note when it comes from the English article."""
        note = templates.line("fallback_note", u.language) if knowledge_language(u.language) != u.language else ""
        return Reply(text=composition.text, outcome="answer", topic=topic, retrieved_topics=u.retrieved,
                     sources=sources_of(composition.passages), language=u.language, confidence=u.top[1],
                     reason="faq", note=note)

    @staticmethod
    def topic_answer(topic: Topic, u: Understanding) -> Reply:
        """A pack topic's own short ``answer`` (the topic has no article to compose from)."""
        return Reply(text=topic.answer or "", outcome="answer", topic=topic.id, retrieved_topics=u.retrieved,
                     sources=[], language=u.language, confidence=u.top[1], reason="topic-answer")

    @staticmethod
    def model_job(composition: Composition, u: Understanding, conversation: Conversation) -> ModelJob:
        """The composer's passages first, then the best retrieved ones; redacted question and history."""
        cited = {c.id for c in composition.passages}
        passages = composition.passages + [p for p in u.retrieval.passages[:MODEL_EXTRA_PASSAGES]
                                           if p.id not in cited]
        # Redaction runs before anything leaves the machine: card numbers, IBANs, e-mails, phones.
        history = [Turn(t.role, redact(t.text), t.language, t.topic, t.outcome) for t in conversation.turns[:-1]]
        return ModelJob(redact(u.text), u.language, passages, history)
