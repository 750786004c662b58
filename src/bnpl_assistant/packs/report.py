"""The onboarding report: ``onboarding.json`` (every figure, for tools) and ``onboarding.md`` (for people).

Figures come from the cross-validation (``crossval.py``), each with its bootstrap 95% interval; the forecast
runs the resolution rate and both ends of its interval through the deflection model (``deflection/model.py``)
for ``--monthly-contacts`` on the demo scenario's other inputs (handle time, hours, service level, costs).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from bnpl_assistant.packs import crossval
from bnpl_assistant.packs.tickets import HANDOFF, OUT_OF_SCOPE

MIN_EXAMPLES = 10  # a topic with fewer labelled tickets gets a warning
CONFUSED = 0.2  # a topic whose tickets go to one other topic this often: "near-duplicate topics"
SCENARIO = "demo"  # the deflection preset the forecast takes its other inputs from


def _warnings(cv: Any, decided: list[tuple[str, str | None]]) -> list[str]:
    out: list[str] = []
    counts: Counter[str] = cv.ticket_counts
    has_tickets = sum(counts.values()) > 0
    for topic in cv.topics:
        n = counts.get(topic.id, 0)
        if has_tickets and n < MIN_EXAMPLES:
            out.append(f"topic '{topic.id}' has {n} labelled tickets (fewer than {MIN_EXAMPLES}): its accuracy is "
                       f"uncertain; add examples")
    predicted = Counter(topic for _, topic in decided if topic)
    for topic, n_articles in sorted(cv.article_topics.items()):
        if has_tickets and counts.get(topic, 0) == 0 and predicted.get(topic, 0) == 0:
            out.append(f"topic '{topic}' ({n_articles} article(s)): no ticket is labelled with it or reaches it")
    pairs: Counter[tuple[str, str]] = Counter()
    for label, (_, topic) in zip(cv.oof.labels, decided, strict=True):
        if topic and label != topic and label not in (OUT_OF_SCOPE, HANDOFF):
            pairs[(label, topic)] += 1
    for (a, b), n in sorted(pairs.items()):
        if counts.get(a, 0) >= 5 and n / counts[a] >= CONFUSED:
            out.append(f"near-duplicate topics: {n} of {counts[a]} tickets of '{a}' go to '{b}': merge them or "
                       f"make their examples tell them apart")
    return out


def _forecast(resolution: crossval.Figure, monthly_contacts: float | None) -> dict[str, Any] | None:
    if monthly_contacts is None or resolution.value is None:
        return None
    from bnpl_assistant.deflection.model import headline
    from bnpl_assistant.deflection.scenario import load_preset

    scenario = load_preset(SCENARIO).model_copy(update={"monthly_volume": float(monthly_contacts)})
    head = headline(scenario, resolution.value, resolution.low or 0.0, resolution.high or 0.0)
    return {"monthly_contacts": monthly_contacts, "scenario": SCENARIO,
            "resolution": resolution.to_dict(), **head.to_dict()}


def _pack_summary(pack: Any, topics: int, articles: int, tickets: Counter[str]) -> dict[str, Any]:
    """The report's ``pack`` section: who, and what it was built from (``tickets``: labelled tickets by label)."""
    return {"name": pack.name, "company": pack.company, "languages": list(pack.languages), "topics": topics,
            "articles": articles, "tickets": sum(tickets.values()),
            "out_of_scope_tickets": tickets.get(OUT_OF_SCOPE, 0), "handoff_tickets": tickets.get(HANDOFF, 0)}


def build(settings: Any, cv: Any, monthly_contacts: float | None, skipped: list[Path],
          timings: dict[str, float]) -> dict[str, Any]:
    """The report as a JSON-ready dict."""
    decided = crossval.decisions(cv.oof, cv.topics, cv.thresholds)
    overall = crossval.figures(cv.oof, cv.topics, cv.thresholds, cv.answerable)
    by_file: dict[str, Any] = {}
    for name in sorted(set(cv.oof.sources)):
        rows = np.array([i for i, s in enumerate(cv.oof.sources) if s == name])
        by_file[name] = {k: v.to_dict() for k, v in
                         crossval.figures(cv.oof, cv.topics, cv.thresholds, cv.answerable, rows).items()}
    pack = settings.pack
    per_topic = [{"topic": t.id, "outcome": t.outcome, "tickets": cv.ticket_counts.get(t.id, 0),
                  "articles": cv.article_topics.get(t.id, 0)} for t in cv.topics]
    return {
        "pack": _pack_summary(pack, len(cv.topics), sum(cv.article_topics.values()), cv.ticket_counts),
        "method": {"folds": len(cv.oof.fit_seconds), "bootstrap": crossval.BOOTSTRAP, "budgets": crossval.BUDGETS,
                   "fit_seconds_per_fold": [round(s, 1) for s in cv.oof.fit_seconds]},
        "thresholds": {k: v for k, v in cv.thresholds.__dict__.items()},
        "figures": {k: v.to_dict() for k, v in overall.items()},
        "figures_by_tickets_file": by_file,
        "per_topic": per_topic,
        "warnings": _warnings(cv, decided),
        "skipped_files": [str(p) for p in skipped],
        "forecast": _forecast(overall["resolution"], monthly_contacts),
        "seconds": {k: round(v, 1) for k, v in timings.items()},
    }


def without_tickets(settings: Any, folds: int, skipped: list[Path], timings: dict[str, float]) -> dict[str, Any]:
    """The report of a pack with fewer labelled tickets than folds: built, but nothing to measure or forecast."""
    from bnpl_assistant.kb.validate import load_knowledge
    from bnpl_assistant.policy import load_thresholds

    pack = settings.pack
    kb = load_knowledge(settings.knowledge_dir, settings.languages)
    articles = Counter(a.topic for a in kb.articles)
    return {
        "pack": _pack_summary(pack, len(kb.topics), len(kb.articles), Counter()),
        "method": {"folds": 0, "bootstrap": crossval.BOOTSTRAP, "budgets": crossval.BUDGETS,
                   "fit_seconds_per_fold": []},
        "thresholds": dict(load_thresholds(pack.optional("thresholds.yaml")).__dict__),
        "figures": {}, "figures_by_tickets_file": {},
        "per_topic": [{"topic": t.id, "outcome": t.outcome, "tickets": 0, "articles": articles.get(t.id, 0)}
                      for t in kb.topics],
        "warnings": [f"fewer than {folds} labelled tickets: no cross-validated figures, no forecast, and the "
                     f"thresholds are not calibrated to this pack; add tickets (tickets/*.jsonl or --tickets: text, "
                     f"label, language) with examples of each topic, out_of_scope and handoff, and run onboard again"],
        "skipped_files": [str(p) for p in skipped],
        "forecast": None,
        "seconds": {k: round(v, 1) for k, v in timings.items()},
    }


def _pct(figure: dict[str, Any]) -> str:
    if figure.get("value") is None:
        return "n/a (no tickets of this kind)"
    return f"{figure['value']:.3f} [{figure['low']:.3f}, {figure['high']:.3f}] (n={figure['n']})"


NAMES = {"in_scope_accuracy": "in-scope accuracy", "out_of_scope_recall": "out-of-scope recall",
         "false_refusals": "false refusals", "escalation_recall": "escalation recall",
         "resolution": "resolution (answered right from the pack's content)"}


def markdown(report: dict[str, Any]) -> str:
    """``onboarding.md``."""
    p = report["pack"]
    lines = [f"# Onboarding: {p['company']} (`{p['name']}`)", "",
             f"{p['topics']} topics, {p['articles']} articles, {p['tickets']} labelled tickets "
             f"({p['out_of_scope_tickets']} out of scope, {p['handoff_tickets']} hand-off); languages: "
             f"{', '.join(p['languages'])}.", "",
             "## Cross-validated figures", "",
             f"{report['method']['folds']}-fold cross-validation on the pack's own tickets; 95% bootstrap intervals "
             f"({report['method']['bootstrap']} resamples). Thresholds: the most sensitive values whose false "
             f"triggers on in-scope tickets stay within {report['method']['budgets']}.", "",
             "| figure | value [95% interval] |", "|---|---|"]
    lines += [f"| {NAMES[k]} | {_pct(v)} |" for k, v in report["figures"].items()] or ["| (no tickets) | - |"]
    if len(report["figures_by_tickets_file"]) > 1:
        lines += ["", "### By tickets file", "", "| file | " + " | ".join(NAMES[k] for k in NAMES) + " |",
                  "|---|" + "---|" * len(NAMES)]
        for name, figs in report["figures_by_tickets_file"].items():
            cells = [f"{figs[k]['value']:.3f} (n={figs[k]['n']})" if figs[k]["value"] is not None else "-"
                     for k in NAMES]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "## Thresholds chosen", "", "```", json.dumps(report["thresholds"], indent=1), "```"]
    forecast = report["forecast"]
    if forecast:
        fte = forecast["fte_deflected"]
        hours = forecast["agent_hours_saved_per_month"]
        lines += ["", "## Forecast", "",
                  f"At {forecast['monthly_contacts']:,.0f} contacts a month (other inputs from the "
                  f"`{forecast['scenario']}` deflection scenario): resolution {_pct(forecast['resolution'])}; "
                  f"FTE-equivalent deflection {fte['value']:.1f} [{fte['low']:.1f}, {fte['high']:.1f}] of "
                  f"{forecast['fte_baseline']:.1f} FTE; agent hours saved a month {hours['value']:,.0f} "
                  f"[{hours['low']:,.0f}, {hours['high']:,.0f}].",
                  "", "The resolution rate is measured on the tickets as labelled: if their mix of topics is not "
                  "the mix of real traffic, weigh the per-topic figures in `onboarding.json` by real volumes."]
    lines += ["", "## Per topic", "", "| topic | outcome | tickets | articles |", "|---|---|---:|---:|"]
    lines += [f"| {t['topic']} | {t['outcome']} | {t['tickets']} | {t['articles']} |" for t in report["per_topic"]]
    lines += ["", "## Warnings", ""] + ([f"- {w}" for w in report["warnings"]] or ["- none"])
    if report["skipped_files"]:
        lines += ["", "## Skipped files (not a supported format)", ""] + [f"- {s}" for s in report["skipped_files"]]
    lines += ["", "## Time", "", ", ".join(f"{k}: {v} s" for k, v in report["seconds"].items()), ""]
    return "\n".join(lines)


def write(pack_dir: Path, report: dict[str, Any]) -> None:
    """``onboarding.json`` and ``onboarding.md`` in the pack."""
    (pack_dir / "onboarding.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n",
                                              encoding="utf-8")
    (pack_dir / "onboarding.md").write_text(markdown(report), encoding="utf-8")
