"""The decision, the whole order in one place: act on the account (a pending confirmation, or a new account
request that no rule blocks), refuse attacks, hand off when a person is needed, refuse what is not support or
not understood, otherwise answer.

Thresholds are data (``data/thresholds.yaml``), chosen by ``python -m bnpl_assistant.classify.calibrate``
on the project's own labelled data and documented there.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from bnpl_assistant.conversation import Outcome
from bnpl_assistant.kb.topics import TopicCatalog


@dataclass(frozen=True)
class Thresholds:
    injection: float = 0.5
    handoff: float = 0.5
    offtopic: float = 0.5
    offtopic_referring: float = 0.85  # a short message that refers back is off-topic on its own only above this
    min_topic_prob: float = 0.12
    min_dense: float = 0.0
    repeated_failures: int = 2


@cache
def load_thresholds() -> Thresholds:
    text = resources.files("bnpl_assistant").joinpath("data/thresholds.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text) or {}
    return Thresholds(**{k: v for k, v in (raw.get("thresholds") or {}).items()
                         if k in Thresholds.__dataclass_fields__})


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


def decide(s: Signals, topics: TopicCatalog, th: Thresholds) -> Decision:
    # (0) the account agent took the message (asked only when ``may_act``)
    if s.account:
        return Decision("act", None, "account")
    # (1) attacks: instructions, hidden prompts, other people's data
    if s.injection_rule or s.other_person or s.gate.get("injection", 0.0) >= th.injection:
        return Decision("refuse", None, "injection")
    if s.commitment:  # only a person handling the case may promise refunds, credits or waivers
        return Decision("refuse", s.topic if s.topic_prob >= th.min_topic_prob else None, "commitment-request")
    if s.greeting:
        return Decision("refuse", None, "greeting")
    # (2) a person is needed
    if s.human_rule or s.gate.get("handoff", 0.0) >= th.handoff:
        return Decision("escalate", None, "customer-asked-for-human", "customer-care")
    topic = topics.get(s.topic)
    if topic is not None and topic.outcome == "escalate" and s.topic_prob >= th.min_topic_prob and \
            s.gate.get("offtopic", 0.0) < th.offtopic:
        return Decision("escalate", topic.id, f"topic:{topic.id}", topic.team)
    if s.failures >= th.repeated_failures:
        return Decision("escalate", s.topic, "repeated-failure", "customer-care")
    # (3) not support, or not understood
    if not s.follow_up and s.gate.get("offtopic", 0.0) >= th.offtopic:
        return Decision("refuse", None, "off-topic")
    if topic is None or s.topic_prob < th.min_topic_prob or s.dense_top < th.min_dense:
        return Decision("refuse", "_unsure", "low-confidence")
    # (4) answer
    return Decision("answer", topic.id, "faq")
