"""The decision, the whole order in one place: act on the account (a pending confirmation, or a new account
request that no rule blocks), refuse attacks, hand off when a person is needed, refuse what is not support or
not understood, otherwise answer.

Thresholds are the pack's data (``<pack>/thresholds.yaml``), chosen by cross-validation on the pack's own
labelled tickets (``bnpl-assistant onboard``; the demo pack's by ``python -m bnpl_assistant.classify.calibrate``)
and documented there. A pack without the file gets the defaults below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bnpl_assistant.conversation import Outcome
from bnpl_assistant.errors import DataError
from bnpl_assistant.kb.topics import TopicCatalog
from bnpl_assistant.yamlio import YAMLError, read_yaml


@dataclass(frozen=True)
class Thresholds:
    injection: float = 0.5
    handoff: float = 0.5
    offtopic: float = 0.5
    offtopic_referring: float = 0.85  # a short message that refers back is off-topic on its own only above this
    min_topic_prob: float = 0.12
    out_of_scope: float = 1.01  # refuse at this P(out_of_scope); off until onboarding calibrates it
    # A message whose topic is at least this probable is firmly in the domain: the learned off-topic and
    # injection gates refuse it only from ``firm_gate`` on (the rules still refuse at once). Off by default.
    firm_topic_prob: float = 1.01
    firm_gate: float = 0.5
    min_dense: float = 0.0
    repeated_failures: int = 2


def load_thresholds(path: Path | None) -> Thresholds:
    """The thresholds in ``path`` (a pack's ``thresholds.yaml``); the defaults for what it does not set.

    Raises:
        DataError: the file is not valid YAML or a value is not a number.
    """
    if path is None or not path.is_file():
        return Thresholds()
    try:
        raw = read_yaml(path.read_text(encoding="utf-8")) or {}
        values = {k: type(getattr(Thresholds, k))(v) for k, v in (raw.get("thresholds") or {}).items()
                  if k in Thresholds.__dataclass_fields__}
    except (YAMLError, AttributeError, TypeError, ValueError) as exc:
        raise DataError(f"invalid thresholds file: {exc}", str(path)) from exc
    return Thresholds(**values)


@dataclass(frozen=True)
class Signals:
    """What the policy decides from (built from an ``understand.Understanding`` and the account plan)."""

    injection_rule: bool
    other_person: bool
    human_rule: bool
    gate: dict[str, float]
    topic: str | None
    topic_prob: float
    dense_top: float
    failures: int
    greeting: bool = False
    follow_up: bool = False
    commitment: bool = False
    account: bool = False  # the account agent has a plan for this message
    third_party: bool = False
    quoted_instructions: bool = False
    staff_pretext: bool = False
    stray_confirmation: bool = False  # a bare "yes" with no question of ours waiting for it
    out_of_scope: float = 0.0  # P(not supported by this pack), from the pack's out_of_scope tickets


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    topic: str | None
    reason: str
    team: str | None = None


def may_act(rules_block_actions: bool, pending: bool) -> bool:
    """Whether the account agent is asked at all: always to settle a pending confirmation or clarification,
    otherwise only when no rule saw an attack, someone else's data or a request for a person. Account
    requests come before the learned gate: it was trained on FAQ-style messages and misreads "show me all
    my orders" or a bare "yes"."""
    return pending or not rules_block_actions


def gate_refuses(s: Signals, th: Thresholds, gate: str) -> bool:
    """Whether the learned ``gate`` ("offtopic" or "injection") scores the message at its threshold, which
    rises to ``firm_gate`` for a message firmly in the domain: a confident topic outweighs a weak gate score
    (the gates were fitted on short FAQ-style exemplars, and real messages about a clear topic stray into them)."""
    level = getattr(th, gate)
    if s.topic_prob >= th.firm_topic_prob:
        level = max(level, th.firm_gate)
    return s.gate.get(gate, 0.0) >= level


Rule = Callable[[Signals, TopicCatalog, Thresholds], Decision | None]


def _account(s: Signals, topics: TopicCatalog, th: Thresholds) -> Decision | None:
    """(0) The account agent took the message (asked only when ``may_act``)."""
    return Decision("act", None, "account") if s.account else None


def _stray_confirmation(s: Signals, topics: TopicCatalog, th: Thresholds) -> Decision | None:
    """A "yes" confirms only the action the assistant asked about in its previous turn; with none waiting, it
    confirms nothing (after a refusal, an answer or an attack) and opens nothing."""
    return Decision("refuse", None, "nothing-to-confirm") if s.stray_confirmation else None


def _attack(s: Signals, topics: TopicCatalog, th: Thresholds) -> Decision | None:
    """(1) Attacks: instructions, hidden prompts, other people's data."""
    if s.quoted_instructions:
        return Decision("refuse", None, "quoted-instructions")
    if s.injection_rule or s.other_person or gate_refuses(s, th, "injection"):
        return Decision("refuse", None, "injection")
    return None


def _staff_pretext(s: Signals, topics: TopicCatalog, th: Thresholds) -> Decision | None:
    """Someone who says they call from a bank, a fraud team or the police gets nothing from the chat: the fraud
    team takes it (a real bank asks the company through its own channels). Before the other attack rules: what such
    a message asks for (someone's data, a code) is the pretext's purpose, and the fraud team needs to see it."""
    return Decision("escalate", None, "staff-pretext", "fraud") if s.staff_pretext else None


def _third_party(s: Signals, topics: TopicCatalog, th: Thresholds) -> Decision | None:
    """A relative's or friend's account: declined as such, unless the message is confidently about a topic
    that deals with someone else's account (``others_account`` in topics.yaml: the account holder has died),
    which its team takes."""
    if not s.third_party:
        return None
    topic = topics.get(s.topic)
    if topic is not None and topic.others_account and s.topic_prob >= th.min_topic_prob:
        return None
    return Decision("refuse", None, "third-party")


def _commitment(s: Signals, topics: TopicCatalog, th: Thresholds) -> Decision | None:
    """Only a person handling the case may promise refunds, credits or waivers (a topic that a team takes
    has been handed to that team by now: the person there can answer it)."""
    if s.commitment:
        return Decision("refuse", s.topic if s.topic_prob >= th.min_topic_prob else None, "commitment-request")
    return None


def _greeting(s: Signals, topics: TopicCatalog, th: Thresholds) -> Decision | None:
    return Decision("refuse", None, "greeting") if s.greeting else None


def _asked_for_human(s: Signals, topics: TopicCatalog, th: Thresholds) -> Decision | None:
    """(2) A person is needed: the customer asked for one."""
    if s.human_rule or s.gate.get("handoff", 0.0) >= th.handoff:
        return Decision("escalate", None, "customer-asked-for-human", "customer-care")
    return None


def _escalate_topic(s: Signals, topics: TopicCatalog, th: Thresholds) -> Decision | None:
    """A person is needed: a confident, on-topic message about a topic that a team takes."""
    topic = topics.get(s.topic)
    if topic is not None and topic.outcome == "escalate" and s.topic_prob >= th.min_topic_prob and \
            not gate_refuses(s, th, "offtopic"):
        return Decision("escalate", topic.id, f"topic:{topic.id}", topic.team)
    return None


def _repeated_failure(s: Signals, topics: TopicCatalog, th: Thresholds) -> Decision | None:
    if s.failures >= th.repeated_failures:
        return Decision("escalate", s.topic, "repeated-failure", "customer-care")
    return None


def _off_topic(s: Signals, topics: TopicCatalog, th: Thresholds) -> Decision | None:
    """(3) Not support (a follow-up is read as support)."""
    if not s.follow_up and gate_refuses(s, th, "offtopic"):
        return Decision("refuse", None, "off-topic")
    return None


def _unsupported(s: Signals, topics: TopicCatalog, th: Thresholds) -> Decision | None:
    """Something the pack says it does not support (its out_of_scope tickets), close as it may be to a topic."""
    if not s.follow_up and s.out_of_scope >= th.out_of_scope:
        return Decision("refuse", None, "out-of-scope")
    return None


def _low_confidence(s: Signals, topics: TopicCatalog, th: Thresholds) -> Decision | None:
    """Not understood: no known topic, or too little confidence in it or in the retrieval."""
    if topics.get(s.topic) is None or s.topic_prob < th.min_topic_prob or s.dense_top < th.min_dense:
        return Decision("refuse", "_unsure", "low-confidence")
    return None


# The whole order, first match wins; what no rule takes is answered from the FAQ.
RULES: tuple[Rule, ...] = (
    _account, _stray_confirmation, _staff_pretext, _attack, _greeting,
    _asked_for_human, _third_party, _escalate_topic, _commitment, _repeated_failure,
    _unsupported, _off_topic, _low_confidence,
)


def decide(s: Signals, topics: TopicCatalog, th: Thresholds) -> Decision:
    """The outcome of one turn: the first rule in ``RULES`` that takes the message, otherwise (4) an answer.

    Args:
        s: what was understood about the message.
        topics: the knowledge base's topics.
        th: the decision thresholds.

    Returns:
        The decision with its outcome, topic, reason and (for a hand-off) team.
    """
    for rule in RULES:
        decision = rule(s, topics, th)
        if decision is not None:
            return decision
    return Decision("answer", s.topic, "faq")  # _low_confidence let it through: s.topic is a known topic's id
