"""Dashboard figures from the conversation log's stats (matplotlib, Agg)."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def outcomes(stats: Any) -> Any:
    fig, ax = plt.subplots(figsize=(4, 2.6))
    data = dict(stats.outcomes) if stats is not None else {}
    names = ["answer", "act", "escalate", "refuse"]
    ax.bar(names, [data.get(n, 0) for n in names], color=["#4a7", "#4aa", "#da4", "#a66"])
    ax.set_title("Replies by outcome")
    fig.tight_layout()
    plt.close(fig)
    return fig


def latency(stats: Any) -> Any:
    fig, ax = plt.subplots(figsize=(4, 2.6))
    p50 = (stats.latency_p50_ms or 0.0) if stats is not None else 0.0
    p95 = (stats.latency_p95_ms or 0.0) if stats is not None else 0.0
    ax.bar(["p50", "p95"], [p50, p95], color="#47a")
    ax.set_ylabel("ms")
    ax.set_title("Reply latency")
    fig.tight_layout()
    plt.close(fig)
    return fig
