"""FTE-equivalent deflection: Erlang C, the model, the presets, the inputs, the report and the command."""

from __future__ import annotations

import json
import re
import sqlite3
from itertools import pairwise
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bnpl_assistant.deflection import (
    DeflectionResult,
    ResolutionInput,
    load_preset,
    load_scenario,
    preset_names,
    resolution_from_log,
    resolution_from_results,
    run_deflection,
)
from bnpl_assistant.deflection.command import register
from bnpl_assistant.deflection.erlang import interval_staff, staff_month
from bnpl_assistant.deflection.inputs import wilson_interval
from bnpl_assistant.deflection.model import baseline_staffing, contact_flow, evaluate
from bnpl_assistant.deflection.scenario import parse_scenario
from bnpl_assistant.errors import DataError

PRESETS = Path(__file__).resolve().parents[1] / "src" / "bnpl_assistant" / "deflection" / "presets"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every data directory and the working directory point at tmp_path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BNPL_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture(scope="module")
def klarna() -> DeflectionResult:
    return run_deflection(load_preset("klarna-2024"))


# --- Erlang C ------------------------------------------------------------------------------------


def test_erlang_c_textbook_case() -> None:
    # 100 contacts per 30 min, AHT 3 min: 10 Erlangs. 80% in 20 s needs 14 agents (occupancy 71% is
    # under the 85% cap); 30% shrinkage: ceil(14 / 0.7) = 20 scheduled.
    need = interval_staff(100, 3.0, 20 / 60, 30, 0.8, 0.85, 0.3)
    assert (need.raw, need.positions) == (14, 20)


def test_erlang_c_occupancy_cap_binds_at_scale() -> None:
    # 1,000 contacts per 30 min at 3 min = 100 Erlangs: the service level alone needs ~105 agents
    # (95% busy); the 85% cap raises that to ceil(100 / 0.85) = 118.
    need = interval_staff(1000, 3.0, 20 / 60, 30, 0.8, 0.85, 0.0)
    assert need.raw == 118


def test_erlang_c_empty_interval_needs_nobody() -> None:
    assert interval_staff(0.0, 3.0, 1.0, 30, 0.8, 0.85, 0.3).positions == 0


def test_more_contacts_never_need_fewer_agents() -> None:
    needs = [interval_staff(n / 2, 4.5, 1.0, 30, 0.8, 0.85, 0.32).positions for n in range(1, 600)]
    assert all(a <= b for a, b in pairwise(needs))


def test_month_is_the_week_scaled() -> None:
    demo = load_preset("demo")
    staffing = staff_month(demo, demo.monthly_volume)
    week_hours = sum(staffing.week_positions) * demo.interval_minutes / 60
    assert staffing.paid_hours == pytest.approx(week_hours * demo.days_per_month / 7)
    assert staffing.fte == pytest.approx(staffing.paid_hours / demo.paid_hours_per_fte_month)
    assert staffing.workload_hours == pytest.approx(60_000 * 9.0 / 2.0 / 60)


def test_arrival_profile_follows_opening_hours() -> None:
    demo = load_preset("demo")
    shares = demo.arrival_shares()
    per_day = 48
    assert sum(shares) == pytest.approx(1.0)
    assert sum(shares[6 * per_day:]) == 0  # closed on Sunday
    saturday = shares[5 * per_day:6 * per_day]
    assert [i for i, s in enumerate(saturday) if s > 0] == list(range(18, 34))  # 09:00-17:00


# --- model ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("update, containment", [
    ({}, None),
    ({"monthly_volume": 2_500, "recontact_rate": 0.3, "escalated_aht_factor": 1.6}, None),
    ({"monthly_volume": 9_000, "involvement": 1.0}, 0.8),
    ({"channel": "voice", "concurrency": 1.0, "aht_minutes": 7.0, "shrinkage": 0.0}, 0.5),
])
def test_more_resolution_never_needs_more_agents(update: dict[str, object],
                                                 containment: float | None) -> None:
    scenario = load_preset("demo").model_copy(update=update)
    baseline = baseline_staffing(scenario)
    ftes = [evaluate(scenario, baseline, r / 20, containment).staffing.fte for r in range(21)]
    assert all(a >= b for a, b in pairwise(ftes)), ftes
    assert ftes[0] > ftes[-1]


def test_contact_flow_adds_up() -> None:
    demo = load_preset("demo")
    flow = contact_flow(demo, 0.6, containment=0.7)
    assert flow.direct + flow.offered == pytest.approx(60_000)
    assert flow.resolved + flow.escalated + flow.returned == pytest.approx(flow.offered)
    assert (flow.resolved, flow.escalated, flow.returned) == pytest.approx((32_400, 16_200, 5_400))
    assert flow.recontacts == pytest.approx(32_400 * 0.08)


def test_demo_band_and_naive_figure(tmp_path: Path) -> None:
    demo = load_preset("demo")
    result = run_deflection(demo, ResolutionInput(0.6, 0.55, 0.65, source="test"))
    band = result.fte_deflected
    assert band.low < band.value < band.high
    assert result.fte_with_assistant.low < result.fte_with_assistant.high
    # 60,000 x 0.9 offered x 0.6 resolved x (9 / 2) agent minutes / 60 / 169 paid hours
    assert result.naive_fte.value == pytest.approx(32_400 * 4.5 / 60 / 169)
    assert result.cost_saved_year.value == pytest.approx(12 * result.hours_saved.value * 35.0)
    assert result.claim is None


def test_break_even_is_where_net_saving_turns_positive() -> None:
    demo = load_preset("demo")
    result = run_deflection(demo, ResolutionInput(0.6, 0.55, 0.65))
    rate = result.break_even.resolution
    assert rate is not None and 0 < rate < 0.6
    baseline = baseline_staffing(demo)
    assert evaluate(demo, baseline, rate).net_saving >= 0
    assert evaluate(demo, baseline, rate - 0.01).net_saving < 0


def test_break_even_not_reached_when_the_assistant_costs_too_much() -> None:
    demo = load_preset("demo")
    costly = demo.model_copy(update={"assistant_cost": demo.assistant_cost.model_copy(
        update={"fixed_per_month": 10_000_000})})
    assert run_deflection(costly, ResolutionInput(0.6, 0.55, 0.65)).break_even.resolution is None


def test_no_resolution_rate_anywhere_is_a_data_error() -> None:
    demo = load_preset("demo").model_copy(update={"resolution": None})
    with pytest.raises(DataError, match="--results"):
        run_deflection(demo)


# --- the klarna-2024 preset ----------------------------------------------------------------------


def test_klarna_preset_reproduces_the_public_figures(klarna: DeflectionResult) -> None:
    flow = klarna.headline.point.flow
    assert flow.offered == pytest.approx(2_300_000, rel=1e-6)  # 2.3M assistant conversations
    assert flow.offered / flow.total == pytest.approx(2 / 3, rel=1e-6)  # two-thirds of chats
    # The preset states its band: within +-5% of 700 FTE at 5.6-min chats x 3 concurrent, 173.3 paid
    # hours, 30% shrinkage, 85% max occupancy, 80% in 60 s.
    assert abs(klarna.fte_deflected.value - 700) <= 0.05 * 700
    assert klarna.claim is not None and klarna.claim.within_band
    # Naive by hand: 2.3M resolved x (5.6 / 3) agent minutes / 60 / 173.3 h = 412.9 FTE.
    assert klarna.naive_fte.value == pytest.approx(2_300_000 * (5.6 / 3) / 60 / 173.3, rel=1e-6)
    assert klarna.naive_fte.value == pytest.approx(412.9, abs=0.1)


def test_klarna_claim_check_explains_the_eleven_minutes(klarna: DeflectionResult) -> None:
    check = klarna.claim
    assert check is not None and check.customer_minutes_as_aht_fte is not None
    # 1.87 agent minutes per conversation make 700; 11 minutes of agent time would be ~4,000 FTE.
    assert check.implied_agent_minutes["173.3"] == pytest.approx(5.6 / 3, abs=0.05)
    assert check.implied_agent_minutes["160"] < check.implied_agent_minutes["173.3"]
    assert check.customer_minutes_as_aht_fte > 5 * 700
    assert check.naive_agent_minutes == pytest.approx(700 * 173.3 * 60 / 2_300_000, abs=1e-3)


# --- scenario files ------------------------------------------------------------------------------


def _demo_text() -> str:
    return (PRESETS / "demo.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize("old, new, message", [
    ("monthly_volume: 60000", "monthly_volume: -5", "monthly_volume: must be > 0"),
    ("shrinkage: 0.32", "shrinkage: 1.0", "shrinkage: must be < 1"),
    ("aht_minutes: 9.0", "", "aht_minutes: missing"),
    ("  target: 0.8", "  target: 1.0", "service_level.target: must be < 1"),
    ("channel: chat", "channel: fax", "channel: must be 'chat', 'voice' or 'email'"),
    ("max_occupancy: 0.85", "max_occupancy: 0.85\nmax_ocupancy: 0.9", "max_ocupancy: unknown field"),
    ("  low: 0.55", "  low: 0.7", "resolution: low <= value <= high"),
    ("weekday_profile: [1.4, 1.1, 1.0, 1.0, 1.0, 0.6, 0.0]", "weekday_profile: [1, 1]",
     "weekday_profile: needs at least 7 items"),
    ("  sat: [9, 17]", "  sat: [17, 9]", "opening_hours.sat: needs 0 <= open"),
    ("channel: chat", "channel: voice", "concurrency: must be 1 for voice"),
])
def test_bad_scenario_names_the_field(tmp_path: Path, old: str, new: str, message: str) -> None:
    text = _demo_text()
    assert old in text
    path = tmp_path / "scenario.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_scenario(path)
    assert message in str(info.value)
    assert str(info.value).startswith(f"{path}: ")


def test_scenario_that_is_not_yaml_or_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not valid YAML"):
        parse_scenario("name: [unclosed", "broken.yaml")
    with pytest.raises(DataError, match="mapping"):
        parse_scenario("- just\n- a list\n", "list.yaml")
    with pytest.raises(DataError, match="cannot read"):
        load_scenario(tmp_path / "absent.yaml")


def test_scenario_comments_become_notes() -> None:
    demo = load_preset("demo")
    assert "company facts" in demo.notes["currency"]
    assert "60 s" in demo.notes["service_level.target"]


def test_unknown_preset_lists_the_valid_ones() -> None:
    assert preset_names() == ["demo", "klarna-2024"]
    with pytest.raises(DataError) as info:
        load_preset("acme")
    assert "demo" in str(info.value) and "klarna-2024" in str(info.value)


# --- resolution inputs ---------------------------------------------------------------------------


def _metrics(folder: Path, value: float, low: float, high: float, n: int, containment: float = 0.8) -> None:
    folder.mkdir(parents=True)
    block = {"verified_resolution_rate": {"value": value, "low": low, "high": high},
             "containment_rate": {"value": containment, "low": containment - 0.05,
                                  "high": containment + 0.05},
             "n": n}
    (folder / "metrics.json").write_text(json.dumps({"overall": block}), encoding="utf-8")


def test_resolution_from_results_pools_datasets_by_ticket_count(tmp_path: Path) -> None:
    run = tmp_path / "run"
    _metrics(run / "en", 0.61, 0.55, 0.66, 288)
    _metrics(run / "de", 0.50, 0.40, 0.60, 96, containment=0.7)
    pooled = resolution_from_results(run)
    assert pooled.n == 384
    assert pooled.value == pytest.approx((0.61 * 288 + 0.50 * 96) / 384)
    assert pooled.containment == pytest.approx((0.8 * 288 + 0.7 * 96) / 384)
    assert pooled.low < pooled.value < pooled.high
    assert pooled.high - pooled.low < 0.11  # pooling narrows the interval

    only_de = resolution_from_results(run, dataset="de")
    assert (only_de.value, only_de.low, only_de.high, only_de.n) == (0.50, 0.40, 0.60, 96)
    assert resolution_from_results(run / "en").value == 0.61  # one dataset's folder directly
    with pytest.raises(DataError, match="choose one of de, en"):
        resolution_from_results(run, dataset="fr")


def test_resolution_from_results_without_bootstrap_bounds_uses_wilson(tmp_path: Path) -> None:
    _metrics(tmp_path / "tiny", 0.5, 0.0, 0.0, 4)
    metrics = tmp_path / "tiny" / "metrics.json"
    data = json.loads(metrics.read_text(encoding="utf-8"))
    data["overall"]["verified_resolution_rate"].update(low=None, high=None)  # NaN written as null
    metrics.write_text(json.dumps(data), encoding="utf-8")
    result = resolution_from_results(tmp_path)
    assert (result.low, result.high) == pytest.approx(wilson_interval(2, 4))


def test_resolution_from_results_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no eval results"):
        resolution_from_results(tmp_path)
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "metrics.json").write_text('{"overall": {"n": 10}}', encoding="utf-8")
    with pytest.raises(DataError, match=re.escape("overall.verified_resolution_rate")):
        resolution_from_results(tmp_path)


def _log(path: Path, rows: list[tuple[str, str, int | None]]) -> Path:
    # The raw driver on purpose: a minimal `turns` table (only the columns the reader needs), not the
    # assistant's schema, to show that the log reader asks for nothing more.
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE turns (conversation_id TEXT, turn INTEGER, outcome TEXT, "
                     "feedback INTEGER)")
        conn.executemany("INSERT INTO turns (conversation_id, turn, outcome, feedback) VALUES (?, ?, ?, ?)",
                         [(c, i, o, f) for i, (c, o, f) in enumerate(rows)])
    return path


LOG_ROWS: list[tuple[str, str, int | None]] = [
    ("c1", "answer", None), ("c1", "answer", None),  # resolved
    ("c2", "answer", None), ("c2", "escalate", None),  # escalated
    ("c3", "answer", -1),  # contained, thumbs down: not resolved
    ("c4", "answer", 1),  # resolved, thumbs up
]


def test_resolution_from_log(tmp_path: Path) -> None:
    result = resolution_from_log(_log(tmp_path / "bnpl.sqlite3", LOG_ROWS))
    assert (result.n, result.value, result.containment) == (4, 0.5, 0.75)
    assert (result.low, result.high) == pytest.approx((0.1500, 0.8500), abs=1e-3)  # Wilson, 2 of 4


def test_wilson_interval_known_values() -> None:
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(61, 100) == pytest.approx((0.5121, 0.6999), abs=1e-4)


def test_resolution_from_log_without_a_log(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="run the assistant first"):
        resolution_from_log(tmp_path / "absent.sqlite3")
    empty = tmp_path / "empty.sqlite3"
    sqlite3.connect(empty).close()  # an empty file, as any SQLite client leaves it (no schema of ours)
    with pytest.raises(DataError, match="run the assistant first"):
        resolution_from_log(empty)


# --- report --------------------------------------------------------------------------------------


def test_report_files(tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = run_deflection(load_preset("demo"), ResolutionInput(0.6, 0.55, 0.65, source="test"), out)
    assert set(result.files) == {"markdown", "json", "plot_resolution", "plot_aht", "plot_tornado",
                                 "plot_week"}
    for kind, path in result.files.items():
        assert path.parent == out and path.stat().st_size > 0
        if kind.startswith("plot_"):
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = result.files["markdown"].read_text(encoding="utf-8")
    assert "## Why the naive figure differs" in markdown and "## Break-even" in markdown
    for kind in ("plot_resolution", "plot_aht", "plot_tornado", "plot_week"):
        assert f"]({result.files[kind].name})" in markdown
    data = json.loads(result.files["json"].read_text(encoding="utf-8"))
    assert data["headline"]["fte_deflected"]["value"] == pytest.approx(result.fte_deflected.value)
    assert data["headline"]["naive_fte"]["value"] == pytest.approx(result.naive_fte.value)
    assert len(data["baseline"]["week_positions"]) == 7 * 48
    assert data["break_even"]["resolution"] == result.break_even.resolution
    assert data["scenario"]["monthly_volume"] == 60_000


def test_klarna_report_says_eleven_minutes_is_customer_time(klarna: DeflectionResult) -> None:
    from bnpl_assistant.deflection.report import render_markdown

    markdown = render_markdown(klarna)
    assert "Klarna press release, 27 Feb 2024" in markdown
    assert "customer's time to a resolution" in markdown and "not agent handle time" in markdown


# --- command -------------------------------------------------------------------------------------


@pytest.fixture()
def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Test app."""

    register(app)
    return app


runner = CliRunner()


def test_cli_demo_preset_writes_the_report(cli: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(cli, ["deflection", "--preset", "demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "FTE-equivalent deflected" in result.output
    assert "break-even resolution rate" in result.output
    assert (out / "deflection.md").is_file() and (out / "deflection.json").is_file()


def test_cli_with_results_and_scenario_file(cli: typer.Typer, tmp_path: Path) -> None:
    _metrics(tmp_path / "run" / "dev", 0.7, 0.65, 0.75, 200)
    scenario = tmp_path / "mine.yaml"
    scenario.write_text(_demo_text().replace("name: demo", "name: My Centre"), encoding="utf-8")
    result = runner.invoke(cli, ["deflection", "--results", str(tmp_path / "run"),
                                 "--scenario", str(scenario)])
    assert result.exit_code == 0, result.output
    assert "70.0%" in result.output
    assert (tmp_path / "artifacts" / "deflection" / "my-centre" / "deflection.json").is_file()


def test_cli_log(cli: typer.Typer, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["deflection", "--log", "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "run the assistant first" in result.output
    (tmp_path / "data").mkdir()
    _log(tmp_path / "data" / "bnpl.sqlite3", LOG_ROWS)
    result = runner.invoke(cli, ["deflection", "--log", "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert "conversation log" in result.output


def test_cli_errors(cli: typer.Typer, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["deflection", "--preset", "acme"])
    assert result.exit_code == 1
    assert "unknown preset" in result.output and "klarna-2024" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(_demo_text().replace("shrinkage: 0.32", "shrinkage: 1.2"), encoding="utf-8")
    result = runner.invoke(cli, ["deflection", "--scenario", str(bad)])
    assert result.exit_code == 1 and "shrinkage: must be < 1" in result.output
    result = runner.invoke(cli, ["deflection", "--results", str(tmp_path), "--log"])
    assert result.exit_code == 2
    assert "--help" in runner.invoke(cli, ["deflection", "--help"]).output
