"""PNG plots of a deflection result. The only module that imports matplotlib (Agg canvas, no pyplot,
so nothing global changes and no display is needed)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bnpl_assistant.deflection.result import DeflectionResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_DPI = 110


def _figure(width: float = 7.0, height: float = 4.2) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _short(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, format="png", metadata={"Software": None})
    return path


def _claim_line(result: DeflectionResult, ax: Axes) -> None:
    if result.claim is not None:
        ax.axhline(result.claim.claimed_fte, color="C4", linestyle="-.",
                   label=f"published claim: {result.claim.claimed_fte:,.0f} FTE")


def plot_resolution(result: DeflectionResult, path: Path) -> Path:
    """FTE deflected against the resolution rate, with the 95% interval and the break-even rate."""
    fig = _figure()
    ax = fig.add_subplot()
    xs = [p.x for p in result.resolution_curve]
    ax.plot(xs, [p.fte_deflected for p in result.resolution_curve], label="Erlang C model", color="C0")
    ax.plot(xs, [p.naive_fte for p in result.resolution_curve], "--", label="naive: volume x AHT / hours",
            color="C1")
    r = result.resolution
    ax.axvspan(r.low, r.high, color="C0", alpha=0.15, label="resolution 95% interval")
    ax.plot([r.value], [result.fte_deflected.value], "o", color="C0")
    if result.break_even.resolution is not None:
        ax.axvline(result.break_even.resolution, color="C3", linestyle=":",
                   label=f"break-even {result.break_even.resolution:.0%}")
    ax.axhline(0, color="grey", linewidth=0.6)
    _claim_line(result, ax)
    ax.set_xlabel("resolution rate of assistant conversations")
    ax.set_ylabel("FTE-equivalent deflected")
    ax.set_title(f"{result.scenario.name}: FTE deflected vs resolution rate")
    ax.legend(loc="upper left", fontsize="small")
    return _save(fig, path)


def plot_aht(result: DeflectionResult, path: Path) -> Path:
    """FTE deflected against the human handle time."""
    fig = _figure()
    ax = fig.add_subplot()
    xs = [p.x for p in result.aht_curve]
    ax.plot(xs, [p.fte_deflected for p in result.aht_curve], marker="o", label="Erlang C model")
    ax.plot(xs, [p.naive_fte for p in result.aht_curve], "--", label="naive", color="C1")
    ax.axvline(result.scenario.aht_minutes, color="grey", linestyle=":", label="scenario AHT")
    _claim_line(result, ax)
    ax.set_xlabel(f"human handle time, minutes (concurrency {result.scenario.concurrency:g})")
    ax.set_ylabel("FTE-equivalent deflected")
    ax.set_title(f"{result.scenario.name}: FTE deflected vs handle time "
                 f"(resolution {result.resolution.value:.0%})")
    ax.legend(loc="upper left", fontsize="small")
    return _save(fig, path)


def plot_tornado(result: DeflectionResult, path: Path) -> Path:
    """Swing in FTE deflected as each input moves over its range, widest at the top."""
    bars = list(reversed(result.tornado))
    fig = _figure(height=0.45 * len(bars) + 1.5)
    ax = fig.add_subplot()
    centre = result.fte_deflected.value
    for i, bar in enumerate(bars):
        ax.barh(i, bar.fte_at_low - centre, left=centre, color="C3", alpha=0.7,
                label="input at its low value" if i == 0 else None)
        ax.barh(i, bar.fte_at_high - centre, left=centre, color="C2", alpha=0.7,
                label="input at its high value" if i == 0 else None)
    labels = [f"{b.input} ({_short(b.low_value)} / {_short(b.high_value)})" for b in bars]
    ax.set_yticks(range(len(bars)), labels, fontsize="small")
    ax.axvline(centre, color="black", linewidth=0.8)
    ax.set_xlabel("FTE-equivalent deflected")
    ax.legend(loc="lower right", fontsize="small")
    ax.set_title(f"{result.scenario.name}: sensitivity of FTE deflected")
    return _save(fig, path)


def plot_week(result: DeflectionResult, path: Path) -> Path:
    """Scheduled agents per interval over the representative week, without and with the assistant."""
    fig = _figure(width=9.0, height=3.6)
    ax = fig.add_subplot()
    base = result.headline.baseline.week_positions
    with_assistant = result.headline.point.staffing.week_positions
    hours = [i * result.scenario.interval_minutes / 60 for i in range(len(base))]
    ax.step(hours, base, where="post", label="all contacts to humans")
    ax.step(hours, with_assistant, where="post", label="with the assistant")
    ax.set_xticks(range(0, 7 * 24 + 1, 24), ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", ""])
    ax.set_ylabel("agents scheduled")
    ax.set_title(f"{result.scenario.name}: agents per interval, representative week")
    ax.legend(loc="upper right", fontsize="small")
    return _save(fig, path)


def write_plots(result: DeflectionResult, out_dir: Path) -> dict[str, Path]:
    """Write every plot into ``out_dir``; returns the files by kind."""
    return {
        "plot_resolution": plot_resolution(result, out_dir / "fte-vs-resolution.png"),
        "plot_aht": plot_aht(result, out_dir / "fte-vs-aht.png"),
        "plot_tornado": plot_tornado(result, out_dir / "tornado.png"),
        "plot_week": plot_week(result, out_dir / "week.png"),
    }
