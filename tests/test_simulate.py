"""``simulate``: scripted traffic through the real assistant and desk, deterministic for a seed, leaving a log the
analytics read (hand-offs answered and closed by agents, thumbs, ratings, customers coming back)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bnpl_assistant.analytics.report import build
from bnpl_assistant.analytics.simulate import SimClock, SimulationSummary, load_scripts, simulate
from bnpl_assistant.cli import app
from bnpl_assistant.storage import session
from bnpl_assistant.wiring import Components
from conftest import REPO, Built, DatabaseAt, copy_of_built

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
SCRIPTS = load_scripts(REPO / "evals" / "dev.jsonl", [])


def _run(components: Callable[..., Components], db_path: Path | str, seed: int,
         n: int = 200) -> tuple[SimulationSummary, list[tuple[Any, ...]]]:
    clock = SimClock(START)
    parts = components(db_path=db_path, clock=clock)
    desk, agents = parts.desk(), parts.agent_desk()
    customers = [c.id for c in parts.accounts.list_customers()] if parts.accounts else []
    summary = simulate(desk, agents, clock, SCRIPTS, customers, n, seed, days=14)
    with session(db_path) as conn:
        log = [tuple(r) for r in conn.execute(
            "SELECT created_at, customer_id, message, outcome, topic, feedback FROM turns ORDER BY created_at, id")]
        log += [tuple(r) for r in conn.execute("SELECT at, role, text FROM messages WHERE role = 'agent' ORDER BY id")]
        log += [tuple(r) for r in conn.execute("SELECT at, score, resolved_by FROM ratings ORDER BY id")]
    return summary, log


@pytest.mark.database
def test_same_seed_same_log_and_every_kind_of_event(components: Callable[..., Components],
                                                   database_at: DatabaseAt) -> None:
    first, log = _run(components, database_at("a"), seed=11)
    again, log_again = _run(components, database_at("b"), seed=11)
    _, log_other = _run(components, database_at("c"), seed=12)
    assert first.to_dict() == again.to_dict() and log == log_again
    assert log_other != log
    assert first.conversations == 200
    assert first.handed_off > 0 and first.agent_closed == first.handed_off
    assert first.ratings > 0 and sum(first.thumbs.values()) > 0 and first.returning > 0
    assert sum(first.outcomes.values()) == 200
    report = build(database_at("a"), None, None, datetime(2026, 11, 30, tzinfo=UTC))
    overall = report["overall"]
    assert overall["conversations"] == 200
    assert overall["csat_agent"]["n"] > 0 and overall["csat_assistant"]["n"] > 0
    assert overall["median_minutes_to_resolution_agent"] > 1  # agents wait, answer and close over minutes
    assert overall["durable_resolution"]["n"] > 0  # two weeks: the first week's windows have closed
    assert sum(v["count"] for v in overall["handoff_reasons"].values()) == first.handed_off


def test_simulate_command(built: Built, tmp_path: Path, monkeypatch: Any) -> None:
    settings = copy_of_built(built, tmp_path / "data")
    monkeypatch.setenv("BNPL_DATA_DIR", str(settings.data_dir))
    result = CliRunner().invoke(app, ["simulate", "--conversations", "20", "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert '"conversations": 20' in result.output
    target = settings.data_dir / "simulation.sqlite3"
    assert target.is_file() and not settings.db_path.exists()  # the live database is left alone
    shown = CliRunner().invoke(app, ["report", "--db", str(target), "--since", "8d", "--out", str(tmp_path / "r")])
    assert shown.exit_code == 0 and "20 conversations" in shown.output
    missing = CliRunner().invoke(app, ["simulate", "--conversations", "5", "--dataset", str(tmp_path / "none.jsonl")])
    assert missing.exit_code == 1 and "no such dataset" in missing.output
