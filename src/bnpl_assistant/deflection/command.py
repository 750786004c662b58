"""The ``deflection`` CLI command. Holds no business logic: picks the inputs, runs the model, prints the
headline numbers and turns errors into exit codes. ``register(app)`` adds it to the main Typer app."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bnpl_assistant.errors import BnplError

if TYPE_CHECKING:
    from bnpl_assistant.deflection.result import DeflectionResult

DEFAULT_OUT = Path("artifacts") / "deflection"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "scenario"


def _table(result: DeflectionResult) -> Table:
    c = result.scenario.currency
    r = result.resolution
    table = Table(title=f"deflection: {result.scenario.name}")
    for col, justify in (("", "left"), ("low", "right"), ("point", "right"), ("high", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]  # rich wants a Literal, these are its values
    table.add_row("resolution rate", f"{r.low:.1%}", f"{r.value:.1%}", f"{r.high:.1%}")
    rows = (
        ("FTE with the assistant", result.fte_with_assistant, 1),
        ("FTE-equivalent deflected", result.fte_deflected, 1),
        ("naive FTE (resolved x AHT / hours)", result.naive_fte, 1),
        ("agent hours saved / month", result.hours_saved, 0),
        (f"cost saved / month ({c})", result.cost_saved_month, 0),
        (f"cost saved / year ({c})", result.cost_saved_year, 0),
    )
    table.add_row("FTE, all contacts to humans", *[f"{result.fte_baseline:,.1f}"] * 3)
    for label, band, digits in rows:
        table.add_row(label, *(f"{v:,.{digits}f}" for v in (band.low, band.value, band.high)))
    return table


def deflection(
    results: Annotated[Path | None, typer.Option(
        "--results", help="Eval run folder with <dataset>/metrics.json (e.g. out/eval).")] = None,
    dataset: Annotated[str | None, typer.Option(
        "--dataset", help="Only this dataset of the run (default: all, pooled by ticket count).")] = None,
    log: Annotated[bool, typer.Option(
        "--log", help="Use the live conversation log (Settings.db_path).")] = False,
    scenario: Annotated[Path | None, typer.Option("--scenario", help="Scenario YAML file.")] = None,
    preset: Annotated[str | None, typer.Option(
        "--preset", help="Bundled scenario: klarna-2024 or demo (the default).")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Report folder (default: artifacts/deflection/<scenario>).")] = None,
) -> None:
    """FTE-equivalent deflection: what the resolution rate means in agents, hours and money."""
    from bnpl_assistant.deflection import (
        load_preset,
        load_scenario,
        resolution_from_log,
        resolution_from_results,
        run_deflection,
    )

    if results is not None and log:
        raise typer.BadParameter("use --results DIR or --log, not both")
    if scenario is not None and preset is not None:
        raise typer.BadParameter("use --scenario FILE or --preset NAME, not both")
    if dataset is not None and results is None:
        raise typer.BadParameter("--dataset needs --results DIR")
    console, err = Console(), Console(stderr=True)
    try:
        chosen = load_scenario(scenario) if scenario is not None else load_preset(preset or "demo")
        if results is not None:
            resolution = resolution_from_results(results, dataset)
        elif log:
            from bnpl_assistant.settings import Settings

            resolution = resolution_from_log(Settings().database)
        else:
            resolution = None
        out_dir = out if out is not None else DEFAULT_OUT / _slug(chosen.name)
        result = run_deflection(chosen, resolution, out_dir)
    except BnplError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from exc
    console.print(_table(result))
    console.print(f"resolution from: {escape(result.resolution.source)}", soft_wrap=True)
    be = result.break_even.resolution
    console.print("break-even resolution rate: " + ("not reached" if be is None else f"{be:.1%}"))
    if result.claim is not None:
        verdict = "within" if result.claim.within_band else "outside"
        console.print(f"published claim: {result.claim.claimed_fte:,.0f} FTE, model "
                      f"{result.claim.modelled_fte:,.1f} ({verdict} +-{result.claim.band:.0%})")
    console.print(f"report: {escape(str(result.files['markdown']))}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the ``deflection`` command to a Typer app.

    Args:
        app: The application (the project's main CLI, or a test app).
    """
    app.command("deflection")(deflection)
