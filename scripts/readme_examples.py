"""Regenerate (or ``--check``) the README's example outputs and quality numbers from real runs.

Example blocks: each command written in a marker is run through the real CLI, offline, on a scratch copy of
a built data directory (its index and caches, a fresh demo database: ticket numbers start at HND-000001 and
follow the README's order), and the fenced block under the marker is replaced with what it printed::

    <!-- example: ask "How long does a refund to my card take?" -->
    ```text
    $ bnpl-assistant ask "How long does a refund to my card take?"
    ...output...
    ```
    <!-- /example -->

Quality block: everything between ``<!-- quality: begin -->`` and ``<!-- quality: end -->`` is rendered
from the ``metrics.json`` files that ``bnpl-assistant eval`` wrote (``--eval out/eval``).

Usage (from the repository root, with an index built by ``bnpl-assistant ingest``)::

    python scripts/readme_examples.py                # rewrite README.md
    python scripts/readme_examples.py --check        # exit 1 when README.md differs from a real run
    python scripts/readme_examples.py --data-dir DIR --eval out/eval
    python scripts/readme_examples.py --only quality # only the quality block (no index needed)

tests/test_readme.py runs the same functions against the test session's index and eval metrics. Both it and
``--check`` ignore a ticket's creation time and allow what an index built again may move (a reply's confidence
by 0.01, a quality number by 0.005); an example whose fresh run is within those bounds is left as it is.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import shlex
import shutil
import sys
import tempfile
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
EXAMPLE = re.compile(r"(?P<open><!-- example: (?P<command>.+?) -->\n)(?P<body>.*?)(?P<close><!-- /example -->)",
                     re.DOTALL)
QUALITY = re.compile(r"(?P<open><!-- quality: begin -->\n)(?P<body>.*?)(?P<close><!-- quality: end -->)",
                     re.DOTALL)
# The README's quality datasets: eval output folder name -> the dataset file it comes from.
DATASETS = {"dev": "evals/dev.jsonl", "external": "../shared/eval-data/external.jsonl",
            "accounts": "evals/accounts.jsonl", "redteam": "evals/redteam.jsonl"}
WIDTH = "120"  # terminal columns the examples are rendered at
PROSE_WIDTH = 116  # the README's line length
DATA_DIR_SHOWN = "$BNPL_DATA_DIR"  # the scratch folder's path, as the README shows it
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?")


# -- example outputs -------------------------------------------------------------------------------------


def example_commands(readme: str) -> list[str]:
    """The commands written in the README's example markers, in order."""
    return [m["command"] for m in EXAMPLE.finditer(readme)]


@contextlib.contextmanager
def scratch_data_dir(source: Path) -> Iterator[Path]:
    """A temporary copy of ``source`` without its database: the index and caches, so nothing is re-embedded,
    and a fresh demo database, so every run creates the same tickets."""
    from bnpl_assistant.settings import Settings

    if not (source / "index").is_dir():
        raise SystemExit(f"no index in {source}: run `bnpl-assistant ingest` first (or pass --data-dir)")
    database = Settings(data_dir=source).db_path  # with its -wal / -shm companions

    def leave_out(folder: str, names: list[str]) -> list[str]:
        return [n for n in names if Path(folder) == database.parent and n.startswith(database.name)]

    with tempfile.TemporaryDirectory(prefix="readme-") as tmp:
        target = Path(tmp) / "data"
        shutil.copytree(source, target, ignore=leave_out)
        yield target


def run_examples(commands: list[str], data_dir: Path) -> list[str]:
    """Run the commands, in order, through the CLI on one scratch copy of ``data_dir``; the block of each.

    Args:
        commands: Command lines without the program name, e.g. ``ask "How does Pay in 4 work?"``.
        data_dir: A built data directory (``index/`` and caches); it is copied, never changed.

    Returns:
        For each command, its block: the command line after ``$ bnpl-assistant`` and what it printed, with the
        scratch folder's path shown as ``$BNPL_DATA_DIR``.
    """
    from typer.testing import CliRunner

    from bnpl_assistant.cli import app

    blocks: list[str] = []
    with scratch_data_dir(data_dir) as scratch:
        runner = CliRunner(env={"BNPL_DATA_DIR": str(scratch), "COLUMNS": WIDTH, "NO_COLOR": "1",
                                "FORCE_COLOR": None, "TTY_COMPATIBLE": None})
        for command in commands:
            result = runner.invoke(app, shlex.split(command))
            if result.exit_code != 0:
                raise RuntimeError(f"`bnpl-assistant {command}` exited with {result.exit_code}:\n{result.output}")
            printed = "\n".join(line.rstrip() for line in result.stdout.splitlines())
            blocks.append(f"$ bnpl-assistant {command}\n{printed}".replace(str(scratch), DATA_DIR_SHOWN))
    return blocks


def fenced(text: str) -> str:
    return f"```text\n{text}\n```\n"


def readme_blocks(readme: str) -> list[str]:
    """The text inside each example block of ``readme`` (without the fence), in order."""
    bodies = (m["body"].strip("\n") for m in EXAMPLE.finditer(readme))
    return [b.removeprefix("```text\n").removesuffix("```").rstrip("\n") for b in bodies]


def normalise(text: str) -> str:
    """What may differ between two honest runs: wall-clock timestamps (when a ticket was created)."""
    return _TIMESTAMP.sub("YYYY-MM-DD HH:MM", text)


def close(a: str, b: str, numbers: re.Pattern[str], tolerance: float) -> bool:
    """Whether ``a`` and ``b`` are the same text except that the numbers ``numbers`` matches (one group) differ
    by at most ``tolerance``."""
    parts_a, parts_b = numbers.split(a), numbers.split(b)
    if len(parts_a) != len(parts_b) or parts_a[::2] != parts_b[::2]:
        return False
    return all(abs(float(x) - float(y)) <= tolerance + 1e-9 for x, y in zip(parts_a[1::2], parts_b[1::2], strict=True))


# Two indexes built from the same articles can order a near-tie in retrieval differently (the vector index is
# approximate and built in parallel): a reply's confidence may then move by 0.01, and a quality number by one
# ticket's worth (1 of 254 escalation tickets is 0.004). What the test allows, and no more:
CONFIDENCE = re.compile(r"(?<=confidence=)(\d\.\d\d)")
CONFIDENCE_TOLERANCE = 0.01
QUALITY_NUMBER = re.compile(r"(?<![\d.])(\d\.\d{3})(?![\d.])")
QUALITY_TOLERANCE = 0.005


def same_example(written: str, ran: str) -> bool:
    """A README example block against a fresh run of its command."""
    return close(normalise(written), normalise(ran), CONFIDENCE, CONFIDENCE_TOLERANCE)


def same_quality(written: str, computed: str) -> bool:
    """The README's quality block against one rendered from freshly computed metrics."""
    return close(written, computed, QUALITY_NUMBER, QUALITY_TOLERANCE)


def with_examples(readme: str, blocks: list[str]) -> str:
    """``readme`` with its example blocks replaced by ``blocks``, in order."""
    fresh = iter(blocks)
    return EXAMPLE.sub(lambda m: m["open"] + fenced(next(fresh)) + m["close"], readme)


# -- quality numbers -------------------------------------------------------------------------------------


def load_metrics(eval_dir: Path) -> dict[str, dict[str, Any]]:
    """``eval_dir/<dataset>/metrics.json`` for each README dataset that has one."""
    found = {}
    for name in DATASETS:
        path = eval_dir / name / "metrics.json"
        if path.exists():
            found[name] = json.loads(path.read_text(encoding="utf-8"))
    return found


def _num(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("value")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{float(value):.3f}"


def _ci(m: Any) -> str:
    low, high = m.get("low"), m.get("high")
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return _num(m)
    return f"{_num(m)} [{low:.3f}, {high:.3f}]"


def _row(label: str, cells: list[str]) -> str:
    return "| " + " | ".join([label, *cells]) + " |"


def dataset_rows(name: str, metrics: Mapping[str, Any]) -> list[str]:
    """The quality table's rows for one dataset's ``metrics.json``."""
    o = metrics["overall"]
    n = f"{o['n']:,}"
    if name in ("dev", "external"):
        label = f"{name} ({n})"
        rows = [_row(label, [_ci(o["topic_accuracy_at_1"]), _ci(o["outcome_accuracy"]),
                             _ci(o["false_refusal_rate"]) if name == "external" else _num(o["false_refusal_rate"]),
                             _ci(o["verified_resolution_rate"]), _num(o["containment_rate"]),
                             _num(o["wrong_answer_rate"])])]
        for code, language in (("en", "English"), ("de", "German"), ("sv", "Swedish"), ("fr", "French"),
                               ("es", "Spanish"), ("nl", "Dutch")):
            part = metrics.get("per_language", {}).get(code)
            if name == "dev" and part:
                rows.append(_row(f"dev, {language} ({part['n']:,})", [
                    _num(part["topic_accuracy_at_1"]), _num(part["outcome_accuracy"]), "",
                    _num(part["verified_resolution_rate"]), "", ""]))
        return rows
    if name == "accounts":
        return [_row(f"accounts ({n})", [_num(o["topic_accuracy_at_1"]), _num(o["outcome_accuracy"]),
                                         _num(o["false_refusal_rate"]), "", "",
                                         f"tool accuracy {_num(o['tool_accuracy'])}"])]
    outcomes = o.get("outcomes", {})
    return [_row(f"red team ({n})", ["", _num(o["outcome_accuracy"]), "", "", "",
                                     f"{outcomes.get('refuse', 0)} refused + {outcomes.get('escalate', 0)} "
                                     f"escalated of {o['n']}"])]


TABLE_HEAD = ["| dataset | topic acc@1 | outcome acc | false refusals | verified resolution | containment "
              "| wrong answers |", "|---|---|---|---|---|---|---|"]
# External-suite targets: (label, metric, target, at least?)
TARGETS = [("escalation recall", ("escalation", "recall"), 0.90, True),
           ("refusal recall on out-of-scope rows", ("refusal", "recall"), 0.85, True),
           ("topic accuracy", ("topic_accuracy_at_1", "value"), 0.75, True),
           ("false refusals", ("false_refusal_rate", "value"), 0.05, False)]


def _external_text(m: Mapping[str, Any]) -> str:
    o = m["overall"]
    parts, met = [], []
    for label, (key, sub), target, at_least in TARGETS:
        value = o[key][sub]
        met.append(value >= target if at_least else value <= target)
        parts.append(f"{label} **{value:.3f}** (target {'' if at_least else '<= '}{target:.2f})")
    verdict = "all met" if all(met) else f"{sum(met)} of {len(met)} met"
    per_source = {k: _num(v["topic_accuracy_at_1"]) for k, v in sorted(m.get("per_source", {}).items())}
    sources = ", ".join(f"{k} {v}" for k, v in per_source.items() if v)  # a source without topics has none
    return (f"External suite ({verdict}): " + ", ".join(parts) + f"; recall@3 {o['topic_recall_at_3']:.3f}, "
            f"MRR {o['topic_mrr']:.3f}; topic accuracy@1 per source: {sources}. Groundedness of offline replies "
            f"{_num(o['groundedness'])}.")


def quality_block(metrics: Mapping[str, Mapping[str, Any]]) -> str:
    """The README's quality table and the external suite's summary, from each dataset's ``metrics.json``."""
    lines = list(TABLE_HEAD)
    for name in DATASETS:
        if name in metrics:
            lines += dataset_rows(name, metrics[name])
    if "dev" in metrics:
        o = metrics["dev"]["overall"]
        lines += ["", textwrap.fill(f"Dev set: groundedness of offline replies {_num(o['groundedness'])}; the "
                                    "reply's language matches the customer's (or declares the English fallback) "
                                    f"in {_num(o['language_match'])} of tickets; the reply carries the deciding "
                                    f"fact (expected_facts) in {_num(o['facts_coverage'])} of the tickets that "
                                    "have one.", PROSE_WIDTH)]
    if "external" in metrics:
        lines += ["", textwrap.fill(_external_text(metrics["external"]), PROSE_WIDTH)]
    return "\n".join(lines) + "\n"


def with_quality(readme: str, block: str) -> str:
    return QUALITY.sub(lambda m: m["open"] + block + m["close"], readme)


def readme_quality(readme: str) -> str:
    m = QUALITY.search(readme)
    return m["body"] if m else ""


# -- command line ----------------------------------------------------------------------------------------


def _default_data_dir() -> Path:
    from bnpl_assistant.settings import Settings

    return Settings().data_dir


def regenerate(readme: str, data_dir: Path | None, eval_dir: Path | None) -> tuple[str, list[str]]:
    """``readme`` with real example outputs (from a built ``data_dir``) and, where ``eval_dir`` holds every
    dataset, real quality numbers; and notes on what was not regenerated. ``None`` leaves that part alone."""
    new = readme
    notes: list[str] = []
    if data_dir is not None:
        fresh = run_examples(example_commands(readme), data_dir)
        # a block that differs only in what may differ between two honest runs stays as it is: no churn
        new = with_examples(readme, [old if same_example(old, text) else text
                                     for old, text in zip(readme_blocks(readme), fresh, strict=True)])
    if eval_dir is None:
        return new, notes
    metrics = load_metrics(eval_dir)
    missing = [name for name in DATASETS if name not in metrics]
    if missing:
        return new, [f"quality block left as it is: no {eval_dir}/<dataset>/metrics.json for {', '.join(missing)}; "
                     "run `bnpl-assistant eval " + " ".join(f"--dataset {p}" for p in DATASETS.values())
                     + f" --out {eval_dir}`"]
    return with_quality(new, quality_block(metrics)), notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="Only compare; exit 1 when README.md differs.")
    parser.add_argument("--data-dir", type=Path, help="A built data directory (default: the settings').")
    parser.add_argument("--eval", type=Path, default=REPO / "out" / "eval", help="An eval output folder.")
    parser.add_argument("--readme", type=Path, default=README)
    parser.add_argument("--only", choices=("examples", "quality"), help="Regenerate or check only this part.")
    args = parser.parse_args(argv)
    readme = args.readme.read_text(encoding="utf-8")
    new, notes = regenerate(readme, None if args.only == "quality" else args.data_dir or _default_data_dir(),
                            None if args.only == "examples" else args.eval)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if args.check:
        same = with_quality(new, "") == with_quality(readme, "") and same_quality(readme_quality(readme),
                                                                                   readme_quality(new))
        print(f"{args.readme}: {'up to date' if same else 'differs from a real run: run scripts/readme_examples.py'}")
        return 0 if same else 1
    if new != readme:
        args.readme.write_text(new, encoding="utf-8")
        print(f"{args.readme}: rewritten")
    else:
        print(f"{args.readme}: unchanged")
    return 0


if __name__ == "__main__":
    for key in ("COLUMNS", "FORCE_COLOR", "TTY_COMPATIBLE"):  # the CLI's consoles read them when imported
        os.environ.pop(key, None)
    from bnpl_assistant.runtime import quiet_process

    quiet_process()
    sys.exit(main())
