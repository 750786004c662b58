"""Everything known about one message, computed once per turn: embedding, intent and gate scores, the
follow-up reading, hybrid retrieval fused with the classifier, and the rule signals.

The policy decides from this; the composer and the account agent reuse its vector and passages, so nothing
here is computed twice in a turn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bnpl_assistant.classify import rules
from bnpl_assistant.classify.by_language import LanguageClassifiers
from bnpl_assistant.classify.intent import IntentClassifier, IntentScores
from bnpl_assistant.conversation import Conversation
from bnpl_assistant.packs.tickets import OUT_OF_SCOPE
from bnpl_assistant.policy import Thresholds
from bnpl_assistant.providers.base import Embedder
from bnpl_assistant.retrieve.hybrid import HybridSearch, Retrieval

FOLLOW_UP_MAX_WORDS = 8
RETRIEVAL_WEIGHT = 0.1


@dataclass(frozen=True)
class RuleSignals:
    """What the hand-written rules say about the message (``classify.rules``)."""

    injection: bool
    other_person: bool
    human: bool
    greeting: bool
    commitment: bool
    third_party: bool = False  # a relative's or friend's account named in passing
    quoted_instructions: bool = False  # instructions to the assistant inside forwarded or pasted content
    staff_pretext: bool = False  # the writer claims to call from a bank, a fraud team, the police or the company

    @property
    def blocks_actions(self) -> bool:
        """An attack, someone else's data, a request for a person or for a promise: no new account action
        starts (and nothing in such a message is ever turned into an action on the customer's own orders)."""
        return (self.injection or self.other_person or self.human or self.commitment or self.third_party
                or self.quoted_instructions or self.staff_pretext)

    @classmethod
    def of(cls, text: str, customer_id: str | None = None) -> RuleSignals:
        """The rules on ``text``; a customer id in it is someone else's unless it is ``customer_id``, the
        signed-in customer's own ("Kundennummer cust-041" from cust-041 is just a way of saying hello)."""
        return cls(
            injection=rules.looks_like_injection(text),
            other_person=rules.asks_for_other_person(text) or bool(rules.mentions_customer_ref(text, customer_id)),
            human=rules.asks_for_human(text),
            greeting=rules.is_greeting(text),
            commitment=rules.asks_for_commitment(text),
            third_party=rules.names_third_party_account(text),
            quoted_instructions=rules.addresses_the_assistant_from_quoted_content(text),
            staff_pretext=rules.claims_to_be_staff(text),
        )


@dataclass(frozen=True)
class Understanding:
    """What the assistant made of one message, before deciding.

    Attributes:
        text: the normalised message.
        language: the reply language.
        vector: the query embedding the decision rests on (the message in context for a follow-up).
        topic_ranking: topics by the classifier's probability fused with retrieval, best first.
        retrieval: the hybrid search result.
        gate: the gate's probabilities (support, handoff, offtopic, injection).
        follow_up: the message was read as a follow-up of the previous topic.
        rules: the rule signals.
        out_of_scope: the topic model's probability that the pack does not support this (0 without such tickets).
    """

    text: str
    language: str
    vector: np.ndarray
    topic_ranking: list[tuple[str, float]]
    retrieval: Retrieval
    gate: dict[str, float]
    follow_up: bool
    rules: RuleSignals
    out_of_scope: float = 0.0  # P(the pack's out_of_scope class): trained only from a pack's out_of_scope tickets

    @property
    def top(self) -> tuple[str, float]:
        return self.topic_ranking[0]

    @property
    def retrieved(self) -> list[str]:
        """The five best topics (the results contract's ``retrieved_topics``)."""
        return [t for t, _ in self.topic_ranking[:5]]


class Understander:
    """Reads a message: one query embedding (two for a suspected follow-up), the classifier, the search."""

    def __init__(self, embedder: Embedder, classifier: IntentClassifier | LanguageClassifiers, search: HybridSearch,
                 thresholds: Thresholds | None = None) -> None:
        self.embedder = embedder
        self.classifier = classifier
        self.search = search
        self.thresholds = thresholds or Thresholds()

    def _reads_as_follow_up(self, conversation: Conversation, text: str, scores: IntentScores) -> bool:
        """Whether ``text`` leans on the previous turn ("and to a bank account?", "und wenn nicht?").

        A message that is complete on its own is judged on its own: one the gate confidently calls off-topic
        stays off-topic, however short, unless it refers back to the previous turn; a message that refers
        back needs the stronger ``offtopic_referring`` evidence to be judged on its own.
        """
        if not conversation.last_topic or len(text.split()) > FOLLOW_UP_MAX_WORDS:
            return False
        if len(conversation.last_customer_texts(2)) < 2:  # the current message is already the last
            return False
        refers = rules.refers_back(text)
        offtopic = scores.gate.get("offtopic", 0.0)
        if offtopic >= (self.thresholds.offtopic_referring if refers else self.thresholds.offtopic):
            return False
        return refers or float(scores.topic_probs.max()) < 0.5 or offtopic > 0.3

    def understand(self, conversation: Conversation, text: str, language: str) -> Understanding:
        """Understand ``text`` (already normalised and the conversation's last customer turn).

        Raises:
            StoreUnavailableError: the vector store cannot be reached.
        """
        vector = self.embedder.embed_query(text)
        scores = self.classifier.score(vector, text, language)
        probs = scores.topic_probs
        gate = scores.gate
        follow_up = self._reads_as_follow_up(conversation, text, scores)
        search_text = text
        if follow_up:
            # Only now is the second embedding (message in context) worth its ~15 ms.
            context_text = f"{conversation.last_customer_texts(2)[0]} {text}"
            context_vec = self.embedder.embed_query(context_text)
            context = self.classifier.score(context_vec, context_text, language)
            prior = np.array([1.0 if t == conversation.last_topic else 0.0 for t in scores.topic_ids])
            probs = 0.15 * probs + 0.45 * context.topic_probs + 0.4 * prior
            gate = {k: 0.3 * v + 0.7 * context.gate.get(k, 0.0) for k, v in gate.items()}
            vector = context_vec
            search_text = context_text
        retrieval = self.search.search(search_text, vector, language)
        by_topic = dict(zip(scores.topic_ids, map(float, probs), strict=True))
        out_of_scope = by_topic.pop(OUT_OF_SCOPE, 0.0)  # the pack's "we do not support this" class, if it has one
        fused = fuse(by_topic, retrieval)
        return Understanding(text, language, vector, fused, retrieval, gate, follow_up,
                             RuleSignals.of(text, conversation.customer_id), out_of_scope)


def fuse(probs: dict[str, float], retrieval: Retrieval) -> list[tuple[str, float]]:
    """The classifier's topic probabilities with a little retrieval evidence, best first (ties by id)."""
    top = max(retrieval.topic_scores.values(), default=0.0)
    fused = {}
    for topic, p in probs.items():
        r = retrieval.topic_scores.get(topic, 0.0) / top if top else 0.0
        fused[topic] = (p + RETRIEVAL_WEIGHT * r) / (1.0 + RETRIEVAL_WEIGHT)
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
