"""``python -m benchmarks [--only NAME ...] [--out DIR]``: run the benchmarks, write JSON and Markdown.

Benchmarks measure and report (medians, p95, ratios against the targets); they assert nothing.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bnpl_assistant.runtime import configure_logging, quiet_process

quiet_process()  # before chromadb or gradio are imported by any benchmark

from benchmarks import (  # noqa: E402 - after the process is made quiet
    cold_start,
    eval_throughput,
    fleet,
    ingest_scale,
    live_handoff,
    memory,
    onboard_foreign,
    page_load,
    turn_latency,
    vs_recipe,
)
from benchmarks.common import BenchContext, BenchResult, loadavg, machine_info, write_outputs  # noqa: E402

Runner = Callable[[BenchContext], BenchResult]

# Run order: ingest first (it reports the cold build every other benchmark stands on); memory last, so its
# subprocesses do not compete with the in-process timings.
BENCHMARKS: dict[str, tuple[str, Runner]] = {
    "ingest": ("cold/warm ingest of the shipped KB, synthetic scale run to 20k chunks", ingest_scale.run),
    "cold_start": ("a fresh `ask` process after ingest vs `validate`: median wall, ratio", cold_start.run),
    "turn_latency": ("respond() p50/p95/p99 on the dev set vs the embed+query floor", turn_latency.run),
    "profile": ("pyinstrument profile of respond(), written to profile.txt", turn_latency.run_profile),
    "vs_recipe": ("topic accuracy@1 and latency vs LangChain Chroma similarity_search(k=4)", vs_recipe.run),
    "eval_throughput": ("tickets/s on the external suite, offline", eval_throughput.run),
    "page_load": ("the page under load: 20 customers x 10 turns, page load time, server RSS", page_load.run),
    "fleet": ("replies/s and server CPU per reply, 1 and 2 instances, vs bare respond() and embedding", fleet.run),
    "live_handoff": ("agent's message -> customer's screen and back, p50/p95, two Chromium pages", live_handoff.run),
    "onboard_foreign": ("onboarding BANKING77-OOS and τ-banking: time, forecast vs test, retrieval, turn cost",
                        onboard_foreign.run),
    "memory": ("peak RSS of `ask` and `eval` (`serve`: see page_load)", memory.run),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    listing = "\n".join(f"  {name:<16} {about}" for name, (about, _) in BENCHMARKS.items())
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Measure the assistant against its speed targets and write benchmarks.json/.md.",
        epilog=f"benchmarks:\n{listing}")
    parser.add_argument("--only", nargs="+", action="extend", choices=list(BENCHMARKS), metavar="NAME",
                        help="run only these benchmarks (repeatable)")
    parser.add_argument("--out", type=Path, default=Path("artifacts/benchmarks"),
                        help="output folder (default: artifacts/benchmarks)")
    parser.add_argument("--limit", type=int, default=None,
                        help="smoke run: at most N tickets per dataset (numbers are then not comparable)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    parser.add_argument("--pack", type=Path, default=None,
                        help="run on this operator pack instead of the demo pack (also: BNPL_PACK); the "
                             "benchmarks that score the demo pack's eval sets then report against its topics")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(False)
    if args.pack is not None:
        os.environ["BNPL_PACK"] = str(args.pack.resolve())
    names = list(dict.fromkeys(args.only)) if args.only else list(BENCHMARKS)
    names = [n for n in BENCHMARKS if n in names]
    given = sys.argv[1:] if argv is None else argv
    command = shlex.join(["python", "-m", "benchmarks", *given])
    machine = machine_info()
    ctx = BenchContext(args.out, keep=args.keep, limit=args.limit)
    started = time.perf_counter()
    results: list[BenchResult] = []
    failed = False
    print(f"benchmarks: {', '.join(names)} -> {args.out} (scratch: {ctx.root})", flush=True)
    try:
        for name in names:
            about, runner = BENCHMARKS[name]
            print(f"[{time.perf_counter() - started:6.0f} s] {name}: {about}", flush=True)
            before = loadavg()
            t0 = time.perf_counter()
            try:
                result = runner(ctx)
            except NotImplementedError as exc:
                result = BenchResult(name, about[0].upper() + about[1:], skipped=f"not implemented: {exc}")
                print(f"  skipped: {exc}", flush=True)
            except Exception as exc:  # noqa: BLE001 - one broken benchmark must not lose the others' numbers
                failed = True
                traceback.print_exc()
                result = BenchResult(name, about[0].upper() + about[1:],
                                     skipped=f"failed: {type(exc).__name__}: {exc}")
            result.seconds = time.perf_counter() - t0
            result.load_before, result.load_after = before, loadavg()
            results.append(result)
            for m in result.metrics:
                target = f"  (target {m.target}: {'met' if m.met else 'missed'})" if m.met is not None else ""
                print(f"  {m.label}: {m.value} {m.unit}{target}", flush=True)
    finally:
        ctx.close()
    json_path, md_path = write_outputs(args.out, machine, results, time.perf_counter() - started, command)
    print(f"wrote {json_path} and {md_path} in {(time.perf_counter() - started) / 60:.1f} min", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
