"""Memory: peak resident set size of the CLI commands, each in its own process.

The peak comes from the kernel's accounting of that one process (``os.wait4`` returns its ``rusage``;
``ru_maxrss`` is in KiB on Linux), so nothing has to poll while the command runs.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

from benchmarks.common import EXTERNAL_SET, BenchContext, BenchResult, Metric, Table, now
from bnpl_assistant.runtime import OFFLINE_ENV

QUESTION = "How much is the late fee if I pay an instalment late?"


def cli() -> str:
    return shutil.which("bnpl-assistant") or str(Path(sys.executable).parent / "bnpl-assistant")


# A forked child starts with its parent's high-water mark: Linux carries the RSS of the process that
# forked (or vforked) it into the child's ru_maxrss at exec. Forked from this benchmark, which holds the
# models and several indexes, every command would report the benchmark's own size. So a small launcher
# process starts the command and reports the peak of its own child, which starts from the launcher's size.
LAUNCHER = """
import os, subprocess, sys
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
proc.returncode = os.waitstatus_to_exitcode(status)
kib = usage.ru_maxrss // 1024 if sys.platform == "darwin" else usage.ru_maxrss
with open(sys.argv[1], "w") as out:
    out.write(f"{proc.returncode} {kib}")
"""


def peak_rss(argv: list[str], env: dict[str, str], cwd: Path, log: Path) -> tuple[int, float, float]:
    """Run ``argv``; return (exit status, peak RSS in MiB, wall seconds)."""
    report = log.with_suffix(".rss")
    started = now()
    with log.open("wb") as out:
        code = subprocess.run([sys.executable, "-c", LAUNCHER, str(report), *argv], env=env, cwd=cwd,
                              stdin=subprocess.DEVNULL, stdout=out, stderr=out, check=False).returncode
    seconds = now() - started
    if code != 0 or not report.exists():
        return code or 1, float("nan"), seconds
    status, kib = (int(v) for v in report.read_text().split())
    return status, round(kib / 1024, 1), seconds


def run(ctx: BenchContext) -> BenchResult:
    settings = ctx.built()
    result = BenchResult("memory", "Memory: peak RSS of the CLI")
    env = {**os.environ, **OFFLINE_ENV, "BNPL_DATA_DIR": str(settings.data_dir), "BNPL_LLM": "offline",
           "BNPL_CHROMA_URL": ""}
    cwd = ctx.tmp("memory")
    commands: list[tuple[str, list[str]]] = [("ask", [cli(), "ask", QUESTION])]
    if EXTERNAL_SET.exists():
        eval_cmd = [cli(), "eval", "--dataset", str(EXTERNAL_SET), "--out", str(cwd / "eval-out")]
        if ctx.limit:
            eval_cmd += ["--limit", str(ctx.limit)]
        commands.append(("eval (external suite)", eval_cmd))
    else:
        result.notes.append(f"eval: {EXTERNAL_SET} not found, skipped")
    rows = []
    for label, argv in commands:
        log = cwd / f"{label.split()[0]}.log"
        code, mib, seconds = peak_rss(argv, env, cwd, log)
        rows.append([label, code, mib, round(seconds, 1)])
        result.metrics.append(Metric(f"peak RSS: {label}", mib if code == 0 else f"failed (exit {code})", "MiB"))
        result.data[label] = {"exit": code, "peak_rss_mib": mib, "seconds": seconds,
                              "argv": [Path(argv[0]).name, *argv[1:]]}
        if code != 0:
            tail = log.read_text(encoding="utf-8", errors="replace")[-800:]
            result.notes.append(f"{label} exited {code}: {tail}")
    rows.append(["serve (idle): see page_load", None, None, None])
    result.tables.append(Table("Peak RSS per command (own process each)", ["command", "exit", "peak MiB", "wall s"],
                               rows))
    self_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result.data["benchmark_process_peak_mib"] = round(self_mib, 1)
    result.notes += [
        "Each command runs as `bnpl-assistant ...` in its own process against the benchmark's freshly built "
        "data directory (BNPL_DATA_DIR), offline; the peak is that process's `ru_maxrss` from `os.wait4`, "
        "taken in a small launcher process (a child forked from this big benchmark would inherit its "
        "high-water mark).",
        "`serve` is measured by the `page_load` benchmark, which runs the page: server RSS idle, peak under "
        "load and after 100 conversations.",
        f"For comparison, this benchmark process (everything loaded, all benchmarks so far) peaked at "
        f"{self_mib:.0f} MiB.",
    ]
    return result
