"""The Gradio page under load (issue 8, item 5): waits for the page. A stub so the gap is visible."""

from __future__ import annotations

from benchmarks.common import BenchContext, BenchResult

REASON = "needs the Gradio page (`bnpl-assistant serve`), which does not exist yet"


def run(ctx: BenchContext) -> BenchResult:
    raise NotImplementedError("needs the Gradio page")
