"""Cold start: wall time of a fresh ``bnpl-assistant ask`` process after ingest, against ``validate``.

Each command is its own process (nothing warm but the operating system's file cache), run from a folder that
is not the repository, on the benchmark's freshly ingested data directory (``BNPL_DATA_DIR``). ``ask`` and
``validate`` alternate, so both see the same load on a shared machine; the medians are compared. ``validate``
is the yardstick: it starts Python, the CLI and its settings and parses the knowledge base, and answers
nothing, so the ratio says what answering costs on top of starting up, on any machine. One last ``ask``
runs without the stored classifier, which is what every start cost before it was stored.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path

import bnpl_assistant
from benchmarks.common import BenchContext, BenchResult, Metric, Table, now
from bnpl_assistant.classify.persist import PREFIX, SUFFIX
from bnpl_assistant.runtime import OFFLINE_ENV

QUESTION = "How much is the late fee if I pay an instalment late?"
REPEATS = 5
TARGET_ASK_S = 3.0
TARGET_RATIO = 3.0


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[int, float, float]:
    """Run ``argv``; return (exit status, wall seconds, CPU seconds of the process: user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = now()
    code = subprocess.run(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, check=False).returncode
    wall = now() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return code, wall, cpu


def _environment(data_dir: Path) -> dict[str, str]:
    # The package this benchmark imports is the one measured (a checkout's src/ or the installed one).
    source = str(Path(bnpl_assistant.__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, **OFFLINE_ENV, "BNPL_DATA_DIR": str(data_dir), "BNPL_LLM": "offline",
            "BNPL_CHROMA_URL": "", "PYTHONPATH": path}


def run(ctx: BenchContext, repeats: int = REPEATS) -> BenchResult:
    settings = ctx.built()  # ingest: the index and the trained classifier
    result = BenchResult("cold_start", "Cold start: `ask` in a fresh process after ingest, against `validate`")
    env = _environment(settings.data_dir)
    cwd = ctx.tmp("cold-start")  # another folder than the repository: the data directory is found anyway
    commands = {"ask": [sys.executable, "-m", "bnpl_assistant", "ask", QUESTION],
                "validate": [sys.executable, "-m", "bnpl_assistant", "validate"]}
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, argv in commands.items():
            code, seconds, cpu_seconds = timed(argv, env, cwd)
            if code != 0:
                raise RuntimeError(f"`{name}` exited {code}")
            samples[name].append((seconds, cpu_seconds))
    wall = {name: statistics.median(w for w, _ in runs) for name, runs in samples.items()}
    cpu = {name: statistics.median(c for _, c in runs) for name, runs in samples.items()}
    for stored in settings.cache_dir.glob(f"{PREFIX}*{SUFFIX}"):
        stored.unlink()
    code, untrained_wall, untrained_cpu = timed(commands["ask"], env, cwd)  # trains, and stores it again
    ratio = wall["ask"] / wall["validate"]
    result.metrics += [
        Metric("cold `ask`, median wall", round(wall["ask"], 2), "s", f"< {TARGET_ASK_S:g} s",
               wall["ask"] < TARGET_ASK_S),
        Metric("cold `validate`, median wall", round(wall["validate"], 2), "s"),
        Metric("ratio ask / validate (wall)", round(ratio, 2), "x", f"<= {TARGET_RATIO:g}", ratio <= TARGET_RATIO),
        Metric("ratio ask / validate (CPU)", round(cpu["ask"] / cpu["validate"], 2), "x"),
        Metric("`ask` without the stored classifier (trains it)", round(untrained_wall, 2) if code == 0
               else f"failed (exit {code})", "s"),
    ]
    rows = [[name, len(runs), round(wall[name], 2), round(min(w for w, _ in runs), 2),
             round(max(w for w, _ in runs), 2), round(cpu[name], 2)] for name, runs in samples.items()]
    rows.append(["ask, classifier not stored (1 run)", 1, round(untrained_wall, 2), None, None,
                 round(untrained_cpu, 2)])
    result.tables.append(Table("One process per command, from a folder outside the repository",
                               ["command", "runs", "median wall s", "min s", "max s", "median CPU s"], rows))
    result.data.update({"wall_s": wall, "cpu_s": cpu, "runs": samples, "untrained_ask_wall_s": untrained_wall,
                        "untrained_ask_cpu_s": untrained_cpu, "question": QUESTION})
    result.notes += [
        f"`python -m bnpl_assistant ask \"{QUESTION}\"` and `python -m bnpl_assistant validate`, alternating, "
        f"{repeats} runs each, offline, on the data directory the cold ingest built; wall time of the whole "
        "process (interpreter start to exit), CPU time (user + system) from the kernel's accounting.",
        "The CPU ratio is the steadier number on a shared machine: waiting for a core does not count in it.",
    ]
    return result
