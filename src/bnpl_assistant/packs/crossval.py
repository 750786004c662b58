"""Cross-validation on a pack's own labelled tickets: out-of-fold scores, the thresholds chosen from them, and
the figures a forecast rests on (each with a bootstrap interval).

k folds over the pack's tickets (stratified by label); each fold's classifier is trained on every other
training message (the other folds' tickets, the articles' questions, the engine's gate examples), so every
ticket is scored by a model that never saw it. The thresholds are then the most sensitive ones whose false
refusals (and false hand-offs) on the pack's in-scope tickets stay within a budget (``BUDGETS``), and the
figures are what the serving policy decides on the out-of-fold scores and rule signals at those thresholds.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bnpl_assistant.classify.exemplars import Exemplar
from bnpl_assistant.classify.intent import IntentClassifier
from bnpl_assistant.kb.topics import TopicCatalog
from bnpl_assistant.packs.tickets import HANDOFF, OUT_OF_SCOPE
from bnpl_assistant.policy import Thresholds

# Share of the pack's in-scope tickets each rule may wrongly take (false refusals / false hand-offs).
BUDGETS = {"offtopic": 0.02, "min_topic_prob": 0.01, "handoff": 0.01, "injection": 0.005, "out_of_scope": 0.05}
FOLDS = 5
BOOTSTRAP = 1000
SEED = 7

Progress = Callable[[str, int, int], None]


@dataclass
class OutOfFold:
    """Every pack ticket's label and its out-of-fold scores."""

    labels: list[str]  # topic id | out_of_scope | handoff
    texts: list[str]
    sources: list[str]  # the tickets file each came from (its name)
    gate: dict[str, np.ndarray]  # gate class -> probability per ticket
    top_topic: list[str]
    top_prob: np.ndarray
    out_of_scope: np.ndarray  # P(the out_of_scope class), 0 for a pack without out_of_scope tickets
    fit_seconds: list[float] = field(default_factory=list)


def _stratify(labels: list[str], folds: int) -> list[str]:
    counts = Counter(labels)
    return [label if counts[label] >= folds else "__rare__" for label in labels]


FoldOutput = tuple[list[dict[str, float]], list[str], list[float], list[float], float]  # gates, tops, probs, oos, s


@dataclass(frozen=True)
class _Fold:
    """One fold's job: train without ``held`` (indexes into the exemplars), score ``held``."""

    held: list[int]


_JOB: dict[str, Any] = {}  # the training data, set before the worker processes fork (not pickled per fold)


def _run_fold(fold: _Fold) -> FoldOutput:
    exemplars, vectors, train = _JOB["exemplars"], _JOB["vectors"], _JOB["train"]
    held = set(fold.held)
    keep = [i for i in range(len(exemplars)) if i not in held]
    started = time.perf_counter()
    model = train([exemplars[i] for i in keep], vectors[keep])
    seconds = time.perf_counter() - started
    gates, tops, probs, unsupported = [], [], [], []
    for i in fold.held:
        scores = model.score(vectors[i], exemplars[i].text)
        by_topic = dict(zip(scores.topic_ids, map(float, scores.topic_probs), strict=True))
        unsupported.append(by_topic.pop(OUT_OF_SCOPE, 0.0))  # as understand.py: the class, then the topics
        top = max(by_topic, key=by_topic.__getitem__)
        gates.append(dict(scores.gate))
        tops.append(top)
        probs.append(by_topic[top])
    return gates, tops, probs, unsupported, seconds


def _run_folds(jobs: list[_Fold], workers: int, progress: Progress | None) -> list[FoldOutput]:
    """Every fold's output, in fold order (forked worker processes when ``workers`` > 1)."""
    if workers == 1:
        outputs = []
        for k, job in enumerate(jobs):
            if progress:
                progress("cross-validating", k, len(jobs))
            outputs.append(_run_fold(job))
        return outputs
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        futures = [pool.submit(_run_fold, job) for job in jobs]
        for k, _ in enumerate(concurrent.futures.as_completed(futures)):
            if progress:
                progress("cross-validating", k + 1, len(jobs))
        return [f.result() for f in futures]


def out_of_fold(exemplars: list[Exemplar], vectors: np.ndarray, ticket_rows: list[int], sources: list[str],
                labels: list[str], folds: int = FOLDS, progress: Progress | None = None,
                train: Callable[[list[Exemplar], np.ndarray], IntentClassifier] = IntentClassifier,
                workers: int | None = None) -> OutOfFold:
    """Score every pack ticket (``exemplars[ticket_rows[i]]``, label ``labels[i]``) with a classifier trained
    without its fold. The folds train in parallel, one process per core (``workers``; 1: in this process).

    Raises:
        ValueError: fewer tickets than folds.
    """
    from sklearn.model_selection import StratifiedKFold

    if len(ticket_rows) < folds:
        raise ValueError(f"cross-validation needs at least {folds} tickets (got {len(ticket_rows)})")
    strata = _stratify(labels, folds)
    if Counter(strata)["__rare__"] and Counter(strata)["__rare__"] < folds:  # too few rare ones to split
        strata = [s if s != "__rare__" else max(set(strata) - {"__rare__"}, key=strata.count) for s in strata]
    n = len(ticket_rows)
    result = OutOfFold(labels, [exemplars[i].text for i in ticket_rows], sources, {}, [""] * n, np.zeros(n),
                       np.zeros(n))
    rows = np.asarray(ticket_rows)
    splits = [held for _, held in StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED).split(
        np.zeros(n), strata)]
    jobs = [_Fold(rows[held].tolist()) for held in splits]
    _JOB.update(exemplars=exemplars, vectors=vectors, train=train)
    workers = max(1, min(folds, workers if workers is not None else (os.cpu_count() or 1)))
    try:
        outputs = _run_folds(jobs, workers, progress)
    finally:
        _JOB.clear()
    for held, (gates, tops, probs, unsupported, seconds) in zip(splits, outputs, strict=True):
        result.fit_seconds.append(seconds)
        for j, gate, top, prob, oos in zip(held, gates, tops, probs, unsupported, strict=True):
            for name, value in gate.items():
                result.gate.setdefault(name, np.zeros(n))[j] = value
            result.top_topic[j] = top
            result.top_prob[j] = prob
            result.out_of_scope[j] = oos
    if progress:
        progress("cross-validating", folds, folds)
    return result


def choose_thresholds(oof: OutOfFold, budgets: dict[str, float] | None = None,
                      base: Thresholds | None = None) -> Thresholds:
    """The most sensitive gate and confidence thresholds within the false-trigger budgets on in-scope tickets."""
    budgets = {**BUDGETS, **(budgets or {})}
    in_scope = np.array([label not in (OUT_OF_SCOPE, HANDOFF) for label in oof.labels])
    if not in_scope.any():
        return base or Thresholds()

    def high(name: str) -> float:  # refuse / hand off when the score is at least this
        scores = oof.gate.get(name)
        if scores is None:
            return 1.0
        return round(float(np.quantile(scores[in_scope], 1.0 - budgets[name])), 3)

    low = round(float(np.quantile(oof.top_prob[in_scope], budgets["min_topic_prob"])), 3)
    values = dict(offtopic=high("offtopic"), handoff=high("handoff"), injection=high("injection"), min_topic_prob=low)
    if OUT_OF_SCOPE in oof.labels:  # the pack's own out_of_scope class: refuse from this probability on
        values["out_of_scope"] = round(float(np.quantile(oof.out_of_scope[in_scope], 1.0 - budgets["out_of_scope"])), 3)
    start = base or Thresholds()
    return Thresholds(**{**start.__dict__, **values})


def decisions(oof: OutOfFold, topics: TopicCatalog, th: Thresholds) -> list[tuple[str, str | None]]:
    """(outcome, topic) per ticket: the serving policy (``policy.decide``) on each ticket's out-of-fold scores
    and its rule signals, as a first message of a signed-out conversation (no account action, no follow-up)."""
    from bnpl_assistant.policy import Signals, decide
    from bnpl_assistant.understand import RuleSignals

    out: list[tuple[str, str | None]] = []
    for j, text in enumerate(oof.texts):
        r = RuleSignals.of(text)
        signals = Signals(
            injection_rule=r.injection, other_person=r.other_person, human_rule=r.human,
            gate={name: float(values[j]) for name, values in oof.gate.items()}, topic=oof.top_topic[j],
            topic_prob=float(oof.top_prob[j]), dense_top=1.0, failures=0, greeting=r.greeting,
            commitment=r.commitment, third_party=r.third_party, quoted_instructions=r.quoted_instructions,
            staff_pretext=r.staff_pretext, out_of_scope=float(oof.out_of_scope[j]))
        decision = decide(signals, topics, th)
        topic = decision.topic if decision.topic in topics else None
        out.append((decision.outcome, topic))
    return out


@dataclass(frozen=True)
class Figure:
    """A share with its bootstrap 95% interval and the number of tickets it is over."""

    value: float | None
    low: float | None
    high: float | None
    n: int

    def to_dict(self) -> dict[str, float | int | None]:
        return {"value": self.value, "low": self.low, "high": self.high, "n": self.n}


def bootstrap(hits: np.ndarray, rounds: int = BOOTSTRAP, seed: int = SEED) -> Figure:
    """The mean of a 0/1 array with a percentile bootstrap interval."""
    n = len(hits)
    if n == 0:
        return Figure(None, None, None, 0)
    rng = np.random.default_rng(seed)
    means = hits[rng.integers(0, n, size=(rounds, n))].mean(axis=1)
    return Figure(float(hits.mean()), float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975)), n)


def figures(oof: OutOfFold, topics: TopicCatalog, th: Thresholds, answerable: set[str],
            rows: np.ndarray | None = None) -> dict[str, Figure]:
    """In-scope accuracy, out-of-scope recall, false refusals, escalation recall and resolution (over the rows
    ``rows``, default all).

    - in-scope accuracy: in-scope tickets whose topic is right and which are not refused;
    - out-of-scope recall: ``out_of_scope`` tickets refused;
    - false refusals: in-scope and ``handoff`` tickets refused;
    - escalation recall: ``handoff`` tickets and tickets of topics a team takes that are handed to a person;
    - resolution: tickets answered, on the right topic, from content the pack has (an article or a topic
      ``answer``), over all tickets: what the forecast uses.
    """
    decided = decisions(oof, topics, th)
    idx = np.arange(len(oof.labels)) if rows is None else rows
    labels = [oof.labels[i] for i in idx]
    outcome = [decided[i] for i in idx]

    def share(mask: list[bool], hit: list[bool]) -> Figure:
        return bootstrap(np.array([h for m, h in zip(mask, hit, strict=True) if m], dtype=float))

    special = (OUT_OF_SCOPE, HANDOFF)
    in_scope = [label not in special for label in labels]
    escalates = [label == HANDOFF or (topics.get(label) is not None and topics[label].outcome == "escalate")
                 for label in labels]
    return {
        "in_scope_accuracy": share(in_scope, [o[0] != "refuse" and o[1] == label
                                              for o, label in zip(outcome, labels, strict=True)]),
        "out_of_scope_recall": share([label == OUT_OF_SCOPE for label in labels], [o[0] == "refuse" for o in outcome]),
        "false_refusals": share([label != OUT_OF_SCOPE for label in labels], [o[0] == "refuse" for o in outcome]),
        "escalation_recall": share(escalates, [o[0] == "escalate" for o in outcome]),
        "resolution": share([True] * len(labels), [o[0] == "answer" and o[1] == label and label in answerable
                                                   for o, label in zip(outcome, labels, strict=True)]),
    }
