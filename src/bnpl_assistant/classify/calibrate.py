"""Choose the policy thresholds on a pack's own labelled data, and write ``<pack>/thresholds.yaml``.

Method: 5-fold cross-validation over the classifier exemplars (out-of-fold gate and topic probabilities),
so every threshold is set on messages the fold's model did not see. For each rule we take the most
sensitive threshold whose false-trigger rate on support messages stays within a budget:
- off-topic: refuse when P(off-topic) >= t, with at most 2% of support messages refused;
- low confidence: refuse when the top topic's probability < t, with at most 1% of support messages refused;
- hand-off and injection gates: at most 1% of support messages triggered;
- firm domain (``firm_topic_prob``, ``firm_gate``): from which topic probability on the off-topic and injection
  gates must reach ``firm_gate`` to refuse; the pair that keeps the most support messages from a refusal while
  letting through at most 1% of the off-topic and injection exemplars the gates caught.
Evaluation sets are never used here. Run: ``python -m bnpl_assistant.classify.calibrate`` (the pack that
``BNPL_PACK`` names; default the demo pack).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import yaml
from sklearn.model_selection import StratifiedKFold

from bnpl_assistant.classify.exemplars import EmbeddingCache, Exemplar
from bnpl_assistant.classify.intent import IntentClassifier
from bnpl_assistant.kb.validate import load_knowledge
from bnpl_assistant.providers.factory import make_embedder
from bnpl_assistant.settings import Settings
from bnpl_assistant.wiring import pack_exemplars

BUDGETS = {"offtopic": 0.02, "min_topic_prob": 0.01, "handoff": 0.01, "injection": 0.01, "firm_domain": 0.01}
FIRM_TOPIC_PROBS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
FIRM_GATES = (0.5, 0.6, 0.7, 0.8)


def out_of_fold(exemplars: list[Exemplar], vectors: np.ndarray, folds: int = 5, seed: int = 7
                ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Out-of-fold gate probabilities (n x 4) and top-topic probability (n) for every exemplar."""
    labels = [e.gate if e.gate != "support" else f"t:{e.topic}" for e in exemplars]
    gate = np.zeros((len(exemplars), 4))
    top = np.zeros(len(exemplars))
    names: list[str] = []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(np.zeros(len(labels)), labels):
        model = IntentClassifier([exemplars[i] for i in train], vectors[train])
        names = model.gate_labels
        for i in test:
            scores = model.score(vectors[i], exemplars[i].text)
            gate[i] = [scores.gate[g] for g in names]
            top[i] = float(scores.topic_probs.max())
    return gate, top, names


def threshold_at(scores_support: np.ndarray, budget: float, higher_triggers: bool = True) -> float:
    """The most sensitive threshold that triggers on at most ``budget`` of the support messages."""
    if higher_triggers:
        return float(np.quantile(scores_support, 1.0 - budget))
    return float(np.quantile(scores_support, budget))


def firm_domain(gate: np.ndarray, top: np.ndarray, labels: list[str], names: list[str], chosen: dict[str, float],
                budget: float = BUDGETS["firm_domain"]) -> tuple[float, float, int, int]:
    """(firm_topic_prob, firm_gate, support messages kept from a refusal, refusal exemplars let through).

    Over the grid ``FIRM_TOPIC_PROBS`` x ``FIRM_GATES``: a message with topic probability >= t is refused by the
    off-topic or injection gate only at score >= max(threshold, g) (``policy.gate_refuses``, on all exemplars at
    once). Among the pairs that let through at most ``budget`` of the off-topic and injection exemplars, the one
    that keeps the most support messages (ties: the first in grid order, lower topic probability first, then lower
    gate). (1.01, 0.5) (off) when none qualifies.
    """
    kind = np.array(labels)
    col = {n: i for i, n in enumerate(names)}
    refusable = np.isin(kind, ["offtopic", "injection"])
    support = kind == "support"
    scores = {name: gate[:, col[name]] for name in ("offtopic", "injection")}
    before = np.logical_or.reduce([score >= chosen[name] for name, score in scores.items()])
    best = (1.01, 0.5, 0, 0)
    for t in FIRM_TOPIC_PROBS:
        firm = top >= t
        for g in FIRM_GATES:
            after = np.logical_or.reduce([score >= np.where(firm, max(chosen[name], g), chosen[name])
                                          for name, score in scores.items()])
            kept = int((support & before & ~after).sum())
            lost = int((refusable & before & ~after).sum())
            if lost <= budget * refusable.sum() and kept > best[2]:
                best = (t, g, kept, lost)
    return best


def calibrate(settings: Settings) -> dict[str, float]:
    kb = load_knowledge(settings.knowledge_dir, settings.languages)
    embedder = make_embedder(settings)
    exemplars = pack_exemplars(settings, kb)
    vectors = EmbeddingCache(settings.cache_dir, embedder).embed([e.text for e in exemplars])
    gate, top, names = out_of_fold(exemplars, vectors)
    support = np.array([e.gate == "support" for e in exemplars])
    col = {n: i for i, n in enumerate(names)}
    result = {
        "offtopic": round(threshold_at(gate[support, col["offtopic"]], BUDGETS["offtopic"]), 3),
        "handoff": round(threshold_at(gate[support, col["handoff"]], BUDGETS["handoff"]), 3),
        "injection": round(threshold_at(gate[support, col["injection"]], BUDGETS["injection"]), 3),
        "min_topic_prob": round(threshold_at(top[support], BUDGETS["min_topic_prob"], higher_triggers=False), 3),
    }
    offtopic = np.array([e.gate == "offtopic" for e in exemplars])
    recall = float((gate[offtopic, col["offtopic"]] >= result["offtopic"]).mean())
    print(f"out-of-fold off-topic recall at the chosen threshold: {recall:.3f}")
    firm_prob, firm_gate, kept, lost = firm_domain(gate, top, [e.gate for e in exemplars], names, result)
    print(f"firm domain: topic probability >= {firm_prob}, gates refuse from {firm_gate}: {kept} support "
          f"exemplars kept from a refusal, {lost} off-topic/injection exemplars let through")
    return {**result, "firm_topic_prob": firm_prob, "firm_gate": firm_gate}


def main() -> None:
    settings = Settings()
    values = calibrate(settings)
    path = settings.pack.root / "thresholds.yaml"
    header = (f"# Decision thresholds for bnpl_assistant.policy, chosen by `python -m "
              f"bnpl_assistant.classify.calibrate`\n# on {dt.date.today().isoformat()} from 5-fold out-of-fold "
              f"scores of the classifier exemplars\n# (never an evaluation set). Budgets of false triggers on "
              f"support messages: {BUDGETS}\n")
    body = {"thresholds": {**values, "min_dense": 0.0, "repeated_failures": 2}}
    path.write_text(header + yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    print(yaml.safe_dump(body, sort_keys=False))


if __name__ == "__main__":
    main()
