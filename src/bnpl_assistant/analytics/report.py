"""``bnpl-assistant report --since 7d --out DIR``: the outcome analytics of the live log as ``report.md``,
``report.json`` and PNG plots (by day, by topic, by language, CSAT assistant vs agents), with the hours saved
and FTE-equivalent deflection that the log's resolution means through the deflection model."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bnpl_assistant.analytics import calibration
from bnpl_assistant.analytics.logfile import read_log
from bnpl_assistant.analytics.outcomes import conversation_outcomes, grouped, outcome_rows, summarise
from bnpl_assistant.errors import DataError
from bnpl_assistant.storage.outcomes import read_outcome_log

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SCENARIO = "demo"  # the deflection preset whose other inputs (handle time, hours, costs) the FTE figures use
HEADLINE = (("coverage", "coverage"), ("autonomous_resolution", "autonomous resolution"),
            ("durable_resolution", "durable resolution (not reopened in 7 days)"), ("handoff_rate", "hand-off rate"),
            ("reopen_rate", "reopen rate"), ("csat_assistant", "CSAT, assistant (ratings 4-5)"),
            ("csat_agent", "CSAT, agents (ratings 4-5)"))


def build(db_path: Path | str, since: str | None, until: str | None, as_of: datetime,
          monthly_contacts: float | None = None, eval_dir: Path | None = None,
          eval_dataset: str = "dev") -> dict[str, Any]:
    """The report's content (JSON-ready) from the log at ``db_path``; with ``eval_dir`` (an ``eval --out``
    folder) also the per-topic calibration of its ``eval_dataset`` against the log.

    Raises:
        DataError: no log yet, or no conversation in the window.
    """
    with read_log(db_path, "run the assistant first") as conn:
        log = read_outcome_log(conn, since, until)
    outcomes = conversation_outcomes(log, as_of)
    if not outcomes:
        raise DataError(f"no conversation started in the window (since {since or 'the start'})", str(db_path))
    overall = summarise(outcomes, log.ratings)
    by_topic = grouped(outcomes, log.ratings, lambda o: o.topic)
    predicted = calibration.predicted_by_topic(eval_dir, eval_dataset) if eval_dir is not None else {}
    return {
        "window": {"since": since, "until": until, "as_of": as_of.isoformat(timespec="seconds")},
        "overall": overall,
        "by_day": grouped(outcomes, log.ratings, lambda o: o.day),
        "by_topic": by_topic,
        "by_language": grouped(outcomes, log.ratings, lambda o: o.language),
        "deflection": deflection(overall, monthly_contacts),
        "calibration": {"dataset": eval_dataset, "rows": calibration.calibrate(predicted, by_topic)}
        if predicted else None,
        "conversations": outcome_rows(outcomes),
    }


def deflection(overall: dict[str, Any], monthly_contacts: float | None) -> dict[str, Any] | None:
    """Hours saved and FTE deflected at the log's resolution (durable where known, else autonomous), banded by
    its interval, through the deflection model with the ``demo`` preset's other inputs."""
    from bnpl_assistant.deflection.model import headline
    from bnpl_assistant.deflection.scenario import load_preset

    basis = "durable_resolution" if overall["durable_resolution"]["n"] else "autonomous_resolution"
    figure = overall[basis]
    if figure["value"] is None:
        return None
    scenario = load_preset(SCENARIO)
    if monthly_contacts:
        scenario = scenario.model_copy(update={"monthly_volume": float(monthly_contacts)})
    head = headline(scenario, figure["value"], figure["low"], figure["high"],
                    overall["coverage"]["value"] if overall["coverage"]["n"] else None)
    return {"basis": basis, "resolution": figure, "monthly_contacts": scenario.monthly_volume,
            "scenario": SCENARIO, "agent_hours_saved_per_month": head.band("hours_saved").to_dict(),
            "fte_deflected": head.band("fte_deflected").to_dict(), "fte_baseline": head.baseline.fte}


def _pct(share: dict[str, Any]) -> str:
    if share.get("value") is None:
        return "-"
    return f"{share['value']:.1%} [{share['low']:.1%}, {share['high']:.1%}] (n={share['n']})"


def _minutes(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 60:.1f} s" if value < 1 else f"{value:.1f} min"


def _group_table(groups: dict[str, dict[str, Any]], name: str) -> str:
    lines = [f"| {name} | conversations | autonomous | durable | hand-off | CSAT assistant | CSAT agents |",
             "|---|---|---|---|---|---|---|"]
    for key, s in groups.items():
        cells = [key, str(s["conversations"])] + [
            "-" if s[m]["value"] is None else f"{s[m]['value']:.1%}"
            for m in ("autonomous_resolution", "durable_resolution", "handoff_rate", "csat_assistant", "csat_agent")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown(report: dict[str, Any], plots: list[str]) -> str:
    """The human-readable report."""
    o = report["overall"]
    w = report["window"]
    parts = [f"# Outcome report\n\nConversations that started from {w['since'] or 'the start of the log'}"
             f"{' to ' + w['until'] if w['until'] else ''} (as of {w['as_of']}): **{o['conversations']}**. "
             "Definitions and formulas: `docs/metrics.md`. Shares carry Wilson 95% intervals.",
             "| metric | value |\n|---|---|\n" + "\n".join(f"| {label} | {_pct(o[key])} |" for key, label in HEADLINE)
             + f"\n| median time to resolution, assistant | {_minutes(o['median_minutes_to_resolution_assistant'])} |"
             + f"\n| median time to resolution, agents | {_minutes(o['median_minutes_to_resolution_agent'])} |"]
    if o["handoff_reasons"]:
        parts.append("## Hand-offs by reason\n\n| reason | hand-offs | share |\n|---|---|---|\n" + "\n".join(
            f"| {r} | {v['count']} | {v['share_of_handoffs']:.1%} |" for r, v in o["handoff_reasons"].items()))
    d = report["deflection"]
    if d:
        hours, fte = d["agent_hours_saved_per_month"], d["fte_deflected"]
        parts.append(f"## What it means in agents\n\nAt the log's {d['basis'].replace('_', ' ')} "
                     f"{d['resolution']['value']:.1%} [{d['resolution']['low']:.1%}, {d['resolution']['high']:.1%}], "
                     f"{d['monthly_contacts']:,.0f} contacts a month and the `{d['scenario']}` preset's handle time, "
                     f"hours and costs: **{fte['value']:.1f} FTE** deflected [{fte['low']:.1f}, {fte['high']:.1f}] of "
                     f"{d['fte_baseline']:.1f}, **{hours['value']:,.0f} agent hours** saved a month "
                     f"[{hours['low']:,.0f}, {hours['high']:,.0f}].")
    if report.get("calibration"):
        parts.append(calibration.markdown(report["calibration"]["rows"], report["calibration"]["dataset"]))
    parts.append("## By day\n\n" + _group_table(report["by_day"], "day"))
    parts.append("## By topic\n\n" + _group_table(report["by_topic"], "topic"))
    parts.append("## By language\n\n" + _group_table(report["by_language"], "language"))
    parts.append("\n".join(f"![{p}]({p})" for p in plots))
    return "\n\n".join(parts) + "\n"


def _figure(width: float = 7.5, height: float = 4.0) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _rates(groups: dict[str, dict[str, Any]], metric: str) -> list[float]:
    """The metric per group; NaN (a gap in the line, no bar) where it has no value, e.g. durable resolution of
    days whose 7-day windows are still open."""
    return [float("nan") if s[metric]["value"] is None else float(s[metric]["value"]) for s in groups.values()]


def plot_by_day(report: dict[str, Any]) -> Figure:
    """Autonomous and durable resolution and the hand-off rate per day, conversations as bars."""
    days = report["by_day"]
    fig = _figure()
    ax = fig.add_subplot()
    x = list(range(len(days)))
    ax.bar(x, [s["conversations"] for s in days.values()], color="0.85", label="conversations")
    ax.set_ylabel("conversations")
    rates = ax.twinx()
    for metric, label in (("autonomous_resolution", "autonomous"), ("durable_resolution", "durable"),
                          ("handoff_rate", "hand-off")):
        rates.plot(x, _rates(days, metric), marker="o", label=label)
    rates.set_ylim(0, 1)
    rates.set_ylabel("share of conversations")
    ax.set_xticks(x, list(days), rotation=45, ha="right")
    rates.legend(loc="upper left", fontsize=8)
    ax.set_title("Outcomes by day")
    return fig


def plot_groups(groups: dict[str, dict[str, Any]], title: str) -> Figure:
    """Autonomous resolution and hand-off rate per group (topic or language), as horizontal bars."""
    names = list(groups)
    fig = _figure(7.5, max(2.5, 0.28 * len(names) + 1.2))
    ax = fig.add_subplot()
    y = list(range(len(names)))
    ax.barh([v - 0.2 for v in y], _rates(groups, "autonomous_resolution"), height=0.4, label="autonomous resolution")
    ax.barh([v + 0.2 for v in y], _rates(groups, "handoff_rate"), height=0.4, label="hand-off rate")
    ax.set_yticks(y, [f"{n} ({groups[n]['conversations']})" for n in names], fontsize=8)
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.legend(fontsize=8)
    ax.set_title(title)
    return fig


def plot_csat(report: dict[str, Any]) -> Figure:
    """CSAT of the assistant beside the agents', with intervals."""
    o = report["overall"]
    fig = _figure(5.0, 3.2)
    ax = fig.add_subplot()
    for i, (key, label) in enumerate((("csat_assistant", "assistant"), ("csat_agent", "agents"))):
        s = o[key]
        if s["value"] is None:
            continue
        ax.bar([i], [s["value"]], yerr=[[s["value"] - s["low"]], [s["high"] - s["value"]]], capsize=6,
               label=f"{label} (n={s['n']})")
    ax.set_xticks([0, 1], ["assistant", "agents"])
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of ratings 4-5")
    ax.set_title("CSAT")
    return fig


def figures(report: dict[str, Any]) -> dict[str, Figure]:
    """Every plot of the report by file name."""
    out = {"by_day.png": plot_by_day(report),
           "by_topic.png": plot_groups(report["by_topic"], "Outcomes by topic"),
           "by_language.png": plot_groups(report["by_language"], "Outcomes by language"),
           "csat.png": plot_csat(report)}
    if report.get("calibration") and report["calibration"]["rows"]:
        out["calibration.png"] = calibration.plot(report["calibration"]["rows"])
    return out


def write(report: dict[str, Any], out: Path) -> list[Path]:
    """Write ``report.json``, the plots and ``report.md`` into ``out``; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, fig in figures(report).items():
        fig.savefig(out / name, format="png", metadata={"Software": None})
        written.append(out / name)
    (out / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    (out / "report.md").write_text(markdown(report, [p.name for p in written]), encoding="utf-8")
    return [out / "report.md", out / "report.json", *written]
