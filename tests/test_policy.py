"""The decision order's firm-domain rule and its calibration: a confident topic outweighs a weak gate score."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bnpl_assistant.classify.calibrate import firm_domain
from bnpl_assistant.kb.topics import Topic, TopicCatalog
from bnpl_assistant.policy import Signals, Thresholds, decide, load_thresholds

TOPICS = TopicCatalog([Topic("late-fees", "payments", "what a missed payment costs", "answer"),
                       Topic("financial-hardship", "payments", "cannot pay", "escalate", team="collections")])
FIRM = Thresholds(injection=0.2, offtopic=0.45, firm_topic_prob=0.7, firm_gate=0.7)


def signals(topic: str = "late-fees", topic_prob: float = 0.9, injection: float = 0.0, offtopic: float = 0.0,
            injection_rule: bool = False) -> Signals:
    return Signals(injection_rule=injection_rule, other_person=False, human_rule=False,
                   gate={"support": 1.0 - injection - offtopic, "handoff": 0.0, "offtopic": offtopic,
                         "injection": injection}, topic=topic, topic_prob=topic_prob, dense_top=0.9, failures=0)


def test_a_weak_gate_score_does_not_refuse_a_message_firmly_in_the_domain() -> None:
    assert decide(signals(injection=0.3), TOPICS, FIRM).outcome == "answer"
    assert decide(signals(offtopic=0.5), TOPICS, FIRM).outcome == "answer"
    assert decide(signals("financial-hardship", offtopic=0.5), TOPICS, FIRM).outcome == "escalate"


def test_the_same_score_refuses_when_the_topic_is_not_firm() -> None:
    assert decide(signals(topic_prob=0.5, injection=0.3), TOPICS, FIRM).reason == "injection"
    assert decide(signals(topic_prob=0.5, offtopic=0.5), TOPICS, FIRM).reason == "off-topic"


def test_a_strong_gate_score_or_a_rule_refuses_however_firm_the_topic() -> None:
    assert decide(signals(topic_prob=0.99, injection=0.75), TOPICS, FIRM).reason == "injection"
    assert decide(signals(topic_prob=0.99, offtopic=0.75), TOPICS, FIRM).reason == "off-topic"
    assert decide(signals(topic_prob=0.99, injection_rule=True), TOPICS, FIRM).reason == "injection"


def test_without_calibration_the_rule_is_off() -> None:
    th = Thresholds(injection=0.2, offtopic=0.45)
    assert decide(signals(topic_prob=0.99, injection=0.3), TOPICS, th).reason == "injection"


def test_the_pack_file_sets_the_firm_domain(tmp_path: Path) -> None:
    path = tmp_path / "thresholds.yaml"
    path.write_text("thresholds:\n  firm_topic_prob: 0.6\n  firm_gate: 0.8\n", encoding="utf-8")
    th = load_thresholds(path)
    assert (th.firm_topic_prob, th.firm_gate) == (0.6, 0.8)


def test_calibration_keeps_support_within_the_budget_of_refusals_let_through() -> None:
    names = ["handoff", "injection", "offtopic", "support"]
    # 100 support messages with a weak off-topic score (0.5) and a confident topic (0.8); 100 off-topic
    # messages, 60 caught with 0.9, 40 caught with 0.5 at topic 0.35 (their topics are never confident).
    labels = ["support"] * 100 + ["offtopic"] * 100
    gate = np.zeros((200, 4))
    gate[:100, 2] = 0.5
    gate[100:160, 2] = 0.9
    gate[160:, 2] = 0.5
    top = np.array([0.8] * 100 + [0.35] * 100)
    prob, level, kept, lost = firm_domain(gate, top, labels, names, {"offtopic": 0.45, "injection": 0.2})
    assert (kept, lost) == (100, 0)
    assert 0.35 < prob <= 0.8 and level > 0.5
    # Off-topic messages as confident as the support ones: any firm rule lets them through, so it stays off.
    assert firm_domain(gate, np.full(200, 0.8), labels, names, {"offtopic": 0.45, "injection": 0.2})[:3] == (
        1.01, 0.5, 0)
