"""Is the offline estimate right? Per topic, the offline eval's predicted resolution (verified resolution of the
dataset's tickets of that topic, from ``bnpl-assistant eval``'s ``metrics.json``) beside the log's observed
resolution (durable where the 7-day windows have closed, else autonomous), each with its Wilson 95% interval.
A topic *disagrees* when the two intervals do not overlap."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bnpl_assistant.deflection.inputs import wilson_interval

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def predicted_by_topic(eval_dir: Path, dataset: str = "dev") -> dict[str, dict[str, Any]]:
    """Verified resolution per expected topic of one eval dataset (empty when it was not run)."""
    path = eval_dir / dataset / "metrics.json"
    if not path.is_file():
        return {}
    per_topic = json.loads(path.read_text(encoding="utf-8")).get("per_topic", {})
    out = {}
    for topic, summary in per_topic.items():
        figure = summary.get("verified_resolution_rate") or {}
        n, value = int(figure.get("n") or 0), figure.get("value")
        if topic in (None, "None", "null") or not n or value is None:
            continue
        low, high = wilson_interval(round(value * n), n)
        out[str(topic)] = {"value": value, "low": low, "high": high, "n": n}
    return out


def calibrate(predicted: dict[str, dict[str, Any]], by_topic: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per topic present on both sides: predicted, observed, and whether the intervals are disjoint."""
    rows = []
    for topic in sorted(set(predicted) & set(by_topic)):
        group = by_topic[topic]
        basis = "durable_resolution" if group["durable_resolution"]["n"] else "autonomous_resolution"
        observed = group[basis]
        if observed["value"] is None:
            continue
        p = predicted[topic]
        disagree = p["high"] < observed["low"] or observed["high"] < p["low"]
        rows.append({"topic": topic, "predicted": p, "observed": observed, "observed_basis": basis,
                     "disagree": disagree, "direction": ("optimistic" if p["value"] > observed["value"] else
                                                         "pessimistic") if disagree else None})
    return rows


def markdown(rows: list[dict[str, Any]], dataset: str) -> str:
    """The calibration table and the topics where the offline estimate is off."""
    if not rows:
        return (f"## Offline estimate vs the log\n\nNo topic has both an offline estimate (`eval` of `{dataset}`) "
                "and conversations in this window.")
    lines = [f"## Offline estimate vs the log\n\nPredicted: verified resolution on `{dataset}`; observed: the log's "
             "durable resolution (autonomous where no 7-day window has closed); 95% intervals.\n",
             "| topic | predicted | observed | agree? |", "|---|---|---|---|"]
    for r in rows:
        p, o = r["predicted"], r["observed"]
        lines.append(f"| {r['topic']} | {p['value']:.0%} [{p['low']:.0%}, {p['high']:.0%}] (n={p['n']}) | "
                     f"{o['value']:.0%} [{o['low']:.0%}, {o['high']:.0%}] (n={o['n']}) | "
                     f"{'**no: ' + r['direction'] + '**' if r['disagree'] else 'yes'} |")
    off = [r["topic"] for r in rows if r["disagree"]]
    lines.append("\n" + (f"The offline estimate disagrees with the log beyond both intervals for: {', '.join(off)}."
                         if off else "The offline estimate agrees with the log within the intervals on every topic."))
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]]) -> Figure:
    """Predicted against observed resolution per topic, with both intervals and the diagonal."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 5.0), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="0.6", linewidth=0.8)
    for r in rows:
        p, o = r["predicted"], r["observed"]
        ax.errorbar(p["value"], o["value"], xerr=[[p["value"] - p["low"]], [p["high"] - p["value"]]],
                    yerr=[[o["value"] - o["low"]], [o["high"] - o["value"]]], fmt="o", markersize=4,
                    color="C3" if r["disagree"] else "C0", elinewidth=0.7)
        if r["disagree"]:
            ax.annotate(r["topic"], (p["value"], o["value"]), fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted (offline eval)")
    ax.set_ylabel("observed (log)")
    ax.set_title("Resolution per topic: offline estimate vs the log")
    return fig
