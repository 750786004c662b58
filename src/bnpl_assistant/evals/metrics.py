"""Metric functions on plain result rows (dicts as written to results.jsonl).

Every rate over an empty set is NaN (reported as such, never a divide-by-zero). Headline rates carry a
95% bootstrap confidence interval with a fixed seed, so the same results give the same intervals.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

import numpy as np

from bnpl_assistant.conversation import OUTCOMES

Row = dict[str, Any]
NAN = float("nan")
ANSWERING = ("answer", "act")
BOOTSTRAP_SEED = 20261125
BOOTSTRAP_RESAMPLES = 1000


def rate(flags: Iterable[bool]) -> float:
    values = list(flags)
    return sum(values) / len(values) if values else NAN


def with_topic(rows: list[Row]) -> list[Row]:
    return [r for r in rows if r.get("expected_topic")]


def topic_at_1(row: Row) -> bool:
    ranked = row.get("retrieved_topics") or []
    top = row.get("topic") or (ranked[0] if ranked else None)
    return top == row.get("expected_topic")


def topic_accuracy(rows: list[Row]) -> float:
    return rate(topic_at_1(r) for r in with_topic(rows))


def recall_at_k(rows: list[Row], k: int = 3) -> float:
    return rate(r["expected_topic"] in (r.get("retrieved_topics") or [])[:k] for r in with_topic(rows))


def mrr(rows: list[Row]) -> float:
    scores = []
    for r in with_topic(rows):
        ranked = r.get("retrieved_topics") or []
        scores.append(1.0 / (ranked.index(r["expected_topic"]) + 1) if r["expected_topic"] in ranked else 0.0)
    return sum(scores) / len(scores) if scores else NAN


def outcome_accuracy(rows: list[Row]) -> float:
    return rate(r["outcome"] == r["expected_outcome"] for r in rows)


def confusion(rows: list[Row]) -> dict[str, dict[str, int]]:
    """``confusion[expected][actual]`` counts over the four outcomes."""
    table = {e: dict.fromkeys(OUTCOMES, 0) for e in OUTCOMES}
    for r in rows:
        if r["expected_outcome"] in table and r["outcome"] in OUTCOMES:
            table[r["expected_outcome"]][r["outcome"]] += 1
    return table


def precision_recall(rows: list[Row], outcome: str) -> dict[str, float]:
    predicted = [r for r in rows if r["outcome"] == outcome]
    actual = [r for r in rows if r["expected_outcome"] == outcome]
    return {
        "precision": rate(r["expected_outcome"] == outcome for r in predicted),
        "recall": rate(r["outcome"] == outcome for r in actual),
        "support": len(actual),
    }


def false_refusal_rate(rows: list[Row]) -> float:
    """Share of in-scope tickets (expected answer/act/escalate) that the assistant refused."""
    return rate(r["outcome"] == "refuse" for r in rows if r["expected_outcome"] != "refuse")


def facts_covered(row: Row) -> bool | None:
    facts = row.get("expected_facts") or []
    if not facts:
        return None
    text = (row.get("reply") or "").lower()
    return all(f.lower() in text for f in facts)


def facts_coverage(rows: list[Row]) -> float:
    return rate(v for v in (facts_covered(r) for r in rows) if v is not None)


def resolved(row: Row) -> bool:
    """Strict: answered or acted, as expected, on the right topic (and tool), with the facts given."""
    if row["outcome"] not in ANSWERING or row["outcome"] != row["expected_outcome"]:
        return False
    if row.get("expected_topic") and row.get("topic") != row["expected_topic"]:
        return False
    if row.get("expected_tool") and row.get("tool") != row["expected_tool"]:
        return False
    return facts_covered(row) is not False


def answerable(rows: list[Row]) -> list[Row]:
    """The tickets the assistant should resolve itself (expected outcome answer or act): the denominator of
    :func:`resolved` when asking how often a reply does the job, with hand-offs and refusals left out."""
    return [r for r in rows if r["expected_outcome"] in ANSWERING]


def wrong_answer(row: Row) -> bool:
    """Answered (or acted) but not resolved: the costly failure."""
    return row["outcome"] in ANSWERING and not resolved(row)


def contained(row: Row) -> bool:
    return row["outcome"] != "escalate"


_SENTENCE = re.compile(r"(?<=[.!?:])\s+|\n+")


def _norm(text: str) -> str:
    return re.sub(r"[\s*_#>`]+", " ", text).strip().lower()


@lru_cache(maxsize=8)
def _template_patterns(template_lines: tuple[str, ...]) -> list[re.Pattern[str]]:
    """Each sentence of each template as a regex whose {placeholders} match anything."""
    patterns = []
    for line in template_lines:
        for sentence in _SENTENCE.split(line):
            norm = _norm(sentence)
            if norm:
                parts = re.split(r"\\{[^}]*\\}", re.escape(norm))
                if sum(len(p) for p in parts) < 8:  # a bare "{ticket}." would match anything
                    continue
                patterns.append(re.compile(".+?".join(parts)))
    return patterns


def groundedness(reply: str, passages: list[str], template_lines: list[str]) -> float:
    """Share of the reply's sentences found verbatim in a cited passage (template lines excluded)."""
    sources = _norm(" ".join(passages))
    patterns = _template_patterns(tuple(template_lines))
    sentences = [s for s in (_norm(x) for x in _SENTENCE.split(reply)) if len(s) > 3]
    checked = [s for s in sentences if not any(p.fullmatch(s) for p in patterns)]
    return rate(s.strip(" -") in sources for s in checked) if checked else NAN


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else NAN


def bootstrap(rows: list[Row], statistic: Callable[[list[Row]], float], seed: int = BOOTSTRAP_SEED,
              resamples: int = BOOTSTRAP_RESAMPLES) -> dict[str, float]:
    """Point value and 95% percentile bootstrap interval of ``statistic`` over ``rows``."""
    value = statistic(rows)
    if not rows or math.isnan(value):
        return {"value": value, "low": NAN, "high": NAN, "n": len(rows)}
    rng = np.random.default_rng(seed)
    n = len(rows)
    samples = []
    for _ in range(resamples):
        idx = rng.integers(0, n, n)
        s = statistic([rows[i] for i in idx])
        if not math.isnan(s):
            samples.append(s)
    low, high = (float(np.percentile(samples, 2.5)), float(np.percentile(samples, 97.5))) if samples \
        else (NAN, NAN)
    return {"value": value, "low": low, "high": high, "n": n}


def open_set(rows: list[Row]) -> dict[str, float]:
    """Intent detection with out-of-scope messages (as in BANKING77-OOS / CLINC150): in-scope accuracy (the
    topic is right and the message is not refused), out-of-scope recall (``refuse`` tickets refused) and the
    Matthews correlation of "refused" against "should be refused"."""
    in_scope = [r for r in rows if r.get("expected_topic") and r.get("expected_outcome") != "refuse"]
    oos = [r for r in rows if r.get("expected_outcome") == "refuse"]
    tp = sum(r["outcome"] == "refuse" for r in oos)
    fn = len(oos) - tp
    fp = sum(r["outcome"] == "refuse" for r in in_scope)
    tn = len(in_scope) - fp
    denominator = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return {"in_scope_accuracy": rate(topic_at_1(r) and r["outcome"] != "refuse" for r in in_scope),
            "out_of_scope_recall": rate(r["outcome"] == "refuse" for r in oos),
            "mcc": (tp * tn - fp * fn) / denominator if denominator else NAN,
            "n_in_scope": len(in_scope), "n_out_of_scope": len(oos)}


def group_by(rows: list[Row], key: Callable[[Row], str | None]) -> dict[str, list[Row]]:
    groups: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        k = key(r)
        if k is not None:
            groups[k].append(r)
    return dict(sorted(groups.items()))


def summary(rows: list[Row], with_ci: bool = True) -> dict[str, Any]:
    """Every metric of the harness over ``rows``."""
    latencies = [float(r.get("latency_ms", 0.0)) for r in rows]
    ci = bootstrap if with_ci else (lambda rs, f: {"value": f(rs), "n": len(rs)})
    out: dict[str, Any] = {
        "n": len(rows),
        "n_with_topic": len(with_topic(rows)),
        "topic_accuracy_at_1": ci(with_topic(rows), topic_accuracy),
        "topic_recall_at_3": recall_at_k(rows, 3),
        "topic_mrr": mrr(rows),
        "outcome_accuracy": ci(rows, outcome_accuracy),
        "confusion": confusion(rows),
        "escalation": precision_recall(rows, "escalate"),
        "refusal": precision_recall(rows, "refuse"),
        "act": precision_recall(rows, "act"),
        "false_refusal_rate": ci(rows, false_refusal_rate),
        "facts_coverage": facts_coverage(rows),
        "containment_rate": ci(rows, lambda rs: rate(contained(r) for r in rs)),
        "verified_resolution_rate": ci(rows, lambda rs: rate(resolved(r) for r in rs)),
        "verified_resolution_answerable": ci(answerable(rows), lambda rs: rate(resolved(r) for r in rs)),
        "wrong_answer_rate": ci(rows, lambda rs: rate(wrong_answer(r) for r in rs)),
        "latency_ms": {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95),
                       "max": max(latencies) if latencies else NAN},
    }
    grounded = [r["groundedness"] for r in rows if r.get("groundedness") is not None
                and not math.isnan(r["groundedness"])]
    out["groundedness"] = sum(grounded) / len(grounded) if grounded else NAN
    matched = [r["language_match"] for r in rows if r.get("language_match") is not None]
    out["language_match"] = rate(matched)
    tools = [r for r in rows if r.get("expected_tool")]
    out["tool_accuracy"] = rate(r.get("tool") == r["expected_tool"] for r in tools)
    out["outcomes"] = dict(Counter(r["outcome"] for r in rows))
    out["open_set"] = open_set(rows)
    return out
