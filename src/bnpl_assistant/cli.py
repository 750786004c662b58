"""The command line: ``bnpl-assistant <command>``. Holds no business logic; turns errors into exit codes."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from typer.core import TyperGroup

from bnpl_assistant.errors import BnplError
from bnpl_assistant.runtime import configure_logging, quiet_process
from bnpl_assistant.settings import Settings, default_data_dir

ABOUT = "An offline-first AI support assistant for a buy-now-pay-later provider."


class _Commands(TyperGroup):
    """The command group, whose help says where the data lives (worked out when the help is shown)."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self.help = (f"{ABOUT}\n\nIts data (search index, trained classifier, demo accounts, hand-offs) lives in "
                     f"{default_data_dir()}, whatever the current folder; set BNPL_DATA_DIR to use another.")
        super().format_help(ctx, formatter)


app = typer.Typer(cls=_Commands, add_completion=False, no_args_is_help=True, help=ABOUT)
console = Console()
err = Console(stderr=True)


def _settings(**overrides: Any) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**values)


def _fail(exc: BnplError, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {exc}", soft_wrap=True, highlight=False)
    raise typer.Exit(code)


PACK_OPTION = "--pack"


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
          pack: Annotated[Path | None, typer.Option(
              PACK_OPTION, help="The operator pack folder for this command (default: BNPL_PACK, else the demo "
                                "pack). Given before or after the command name.")] = None) -> None:
    quiet_process()
    configure_logging(verbose)
    if pack is not None:  # every Settings() this command builds reads it
        os.environ["BNPL_PACK"] = str(pack.resolve())


def hoist_pack(argv: list[str]) -> list[str]:
    """``--pack DIR`` (or ``--pack=DIR``) given after the command name, moved before it, where the group's
    option reads it: ``bnpl-assistant ask --pack DIR "..."`` = ``bnpl-assistant --pack DIR ask "..."``."""
    out: list[str] = []
    front: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            out.extend(argv[i:])
            break
        if arg == PACK_OPTION and i + 1 < len(argv):
            front += [arg, argv[i + 1]]
            i += 2
            continue
        if arg.startswith(PACK_OPTION + "="):
            front.append(arg)
        else:
            out.append(arg)
        i += 1
    return front + out


@app.command()
def validate(knowledge: Annotated[Path | None, typer.Option(help="Knowledge folder.")] = None) -> None:
    """Check the knowledge base: front matter, topics, duplicate ids, missing twins and languages."""
    from bnpl_assistant.kb.validate import check_knowledge

    settings = _settings(knowledge_dir=knowledge)
    kb, problems = check_knowledge(settings.knowledge_dir, settings.languages)
    for problem in problems:
        err.print(str(problem), markup=False, highlight=False, soft_wrap=True)
    if problems or kb is None:
        err.print(f"[red]{len(problems)} problem(s)[/]")
        raise typer.Exit(1)
    per_lang: dict[str, int] = {}
    for art in kb.articles:
        per_lang[art.language] = per_lang.get(art.language, 0) + 1
    console.print(f"ok: {len(kb.topics)} topics, articles per language: {per_lang}")


@app.command()
def ingest(
    knowledge: Annotated[Path | None, typer.Option(help="Knowledge folder (default: ./knowledge).")] = None,
    rebuild: Annotated[bool, typer.Option(help="Re-embed everything into a fresh index.")] = False,
) -> None:
    """Index the knowledge base into Chroma. Re-running with nothing changed re-embeds nothing."""
    from bnpl_assistant.wiring import ingest_all

    settings = _settings(knowledge_dir=knowledge)
    try:
        with Progress(TextColumn("embedding"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err, transient=True) as bar:
            task = bar.add_task("embed", total=None)
            report = ingest_all(settings, rebuild=rebuild,
                                progress=lambda done, total: bar.update(task, completed=done, total=total))
    except BnplError as exc:
        _fail(exc)
    table = Table(title="ingest")
    for col in ("articles", "chunks", "added", "updated", "unchanged", "removed", "seconds"):
        table.add_column(col, justify="right")
    table.add_row(", ".join(f"{k}: {v}" for k, v in sorted(report.articles.items())), str(report.chunks),
                  str(report.added), str(report.updated), str(report.unchanged), str(report.removed),
                  f"{report.seconds:.1f}")
    console.print(table)
    console.print(f"index: {settings.chroma_url or settings.index_dir} ({report.collection})")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The customer's message.")],
    lang: Annotated[str | None, typer.Option("--lang", help="Force the reply language (en, de, ...).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole reply as JSON.")] = False,
    customer: Annotated[str | None, typer.Option(help="Act as this signed-in demo customer id.")] = None,
) -> None:
    """Ask one question and print the reply with its sources."""
    from bnpl_assistant.conversation import Conversation
    from bnpl_assistant.wiring import build

    settings = _settings()
    try:
        assistant = build(settings).assistant
        reply = assistant.respond(Conversation(customer_id=customer), question, language=lang)
    except BnplError as exc:
        _fail(exc)
    if as_json:
        sys.stdout.write(json.dumps(asdict(reply), ensure_ascii=False, indent=2) + "\n")
        return
    _print_reply(reply)


def _print_reply(reply: Any) -> None:
    badge = {"answer": "green", "act": "cyan", "escalate": "yellow", "refuse": "magenta"}[reply.outcome]
    extra = (f" ticket={reply.ticket_id}" if reply.ticket_id else "") + (" (fell back)" if reply.fell_back else "")
    console.print(f"[{badge}]\\[{reply.outcome}][/] topic={reply.topic} lang={reply.language} "
                  f"confidence={reply.confidence:.2f} model={reply.model_path}{extra}", highlight=False)
    if reply.note:
        console.print(reply.note, markup=False, soft_wrap=True)
    console.print(reply.text, markup=False, soft_wrap=True)
    for s in reply.sources:
        console.print(f"  source: {s.language}/{s.id} - {s.title}", markup=False, style="dim", soft_wrap=True)


@app.command()
def chat(
    customer: Annotated[str | None, typer.Option(help="Signed-in demo customer id.")] = None,
) -> None:
    """A terminal chat that keeps the conversation. Empty line or Ctrl-D ends it."""
    from bnpl_assistant.answer import templates
    from bnpl_assistant.conversation import Conversation
    from bnpl_assistant.wiring import build

    settings = _settings()
    try:
        assistant = build(settings).assistant
    except BnplError as exc:
        _fail(exc)
    conversation = Conversation(customer_id=customer)
    console.print(f"Chat with {templates.company()}'s assistant (empty line to quit).")
    while True:
        try:
            message = console.input("[bold]you> [/]")
        except (EOFError, KeyboardInterrupt):
            break
        if not message.strip():
            break
        try:
            _print_reply(assistant.respond(conversation, message))
        except BnplError as exc:
            err.print(f"[red]error:[/] {exc}")


@app.command("eval")
def eval_(
    dataset: Annotated[list[Path], typer.Option("--dataset", help="A JSONL dataset (repeatable).")],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("out/eval"),
    llm: Annotated[str | None, typer.Option("--llm", help="offline or openai:MODEL.")] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N tickets of each dataset.")] = None,
    workers: Annotated[int, typer.Option(help="Parallel tickets (bounded; for the OpenAI path).")] = 1,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="Skip and list malformed lines.")] = False,
    baseline: Annotated[Path | None, typer.Option(help="A previous --out folder to compare with.")] = None,
) -> None:
    """Run datasets through the assistant; write results.jsonl, metrics.json and report.md."""
    from bnpl_assistant.evals.report import headline_rows
    from bnpl_assistant.evals.run import run_eval

    settings = _settings(llm=llm)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as bar:

        def progress(name: str, total: int) -> Callable[[int], None]:
            task = bar.add_task(name, total=total)
            return lambda n: bar.advance(task, n)

        try:
            result = run_eval(settings, dataset, out, limit=limit, workers=workers, skip_bad=skip_bad,
                              baseline=baseline, progress=progress)
        except BnplError as exc:
            _fail(exc)
    for run in result.datasets:
        table = Table(title=f"{run.dataset.name}: {len(run.rows)} tickets in {run.summary['seconds']} s")
        table.add_column("metric")
        table.add_column("value [95% CI]", justify="right")
        for label, value in headline_rows(run.summary["overall"]):
            table.add_row(label, value)
        console.print(table)
        for bad in run.dataset.bad_lines:
            err.print(f"skipped {bad}", markup=False)
        if run.dataset.unlabelled:
            err.print(f"skipped {len(run.dataset.unlabelled)} unlabelled rows of {run.dataset.path} "
                      "(expected_outcome empty)", markup=False)
    for line in result.regressions:
        console.print(f"[yellow]regression check:[/] {line}", highlight=False)
    console.print(f"report: {result.report}")


@app.command()
def onboard(
    docs: Annotated[Path | None, typer.Option(help="A help-center export: a folder or file of Markdown, HTML, "
                                                   "JSON or JSON Lines documents.")] = None,
    tickets: Annotated[list[Path] | None, typer.Option(help="Labelled tickets (JSON Lines or CSV: text, label, "
                                                            "language); repeat for several files.")] = None,
    monthly_contacts: Annotated[float | None, typer.Option(help="Contacts a month, for the FTE forecast.")] = None,
    folds: Annotated[int, typer.Option(min=2, max=20, help="Cross-validation folds.")] = 5,
) -> None:
    """Make (or update) the pack named by --pack from a help center and labelled tickets, build it, choose its
    thresholds by cross-validation and write onboarding.md / onboarding.json with a forecast."""
    from bnpl_assistant.packs.onboard import onboard as run_onboarding

    pack_dir = _settings().knowledge_dir
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err, transient=True) as bar:
            task = bar.add_task("onboarding", total=None)
            report = run_onboarding(pack_dir, docs, tickets or [], monthly_contacts, folds=folds,
                                    progress=lambda stage, done, total: bar.update(
                                        task, description=stage, completed=done, total=total))
    except BnplError as exc:
        _fail(exc)
    figures = report["figures"]
    table = Table(title=f"onboarding {report['pack']['name']} (cross-validated, 95% intervals)")
    for col in ("figure", "value", "interval", "n"):
        table.add_column(col, justify="right" if col != "figure" else "left")
    for name, fig in figures.items():
        if fig["value"] is not None:
            table.add_row(name, f"{fig['value']:.3f}", f"{fig['low']:.3f}-{fig['high']:.3f}", str(fig["n"]))
    console.print(table)
    for warning in report["warnings"][:10]:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if len(report["warnings"]) > 10:
        console.print(f"[yellow]... and {len(report['warnings']) - 10} more warnings in onboarding.md[/]")
    console.print(f"report: {pack_dir / 'onboarding.md'} ({report['seconds']['total']:.0f} s)")


@app.command("seed-demo")
def seed_demo(reset: Annotated[bool, typer.Option(help="Drop the demo data and seed it again.")] = False) -> None:
    """Create and seed the demo accounts database (deterministic)."""
    from bnpl_assistant.accounts.seed import seed_demo as seed
    from bnpl_assistant.storage import open_database

    settings = _settings()
    database = open_database(settings.database)
    counts = seed(database, reset=reset)
    console.print(f"demo database: {database.describe()}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 7860,
) -> None:
    """Build the index and demo accounts if missing, then serve the Gradio page."""
    from bnpl_assistant.assistant import warm_up
    from bnpl_assistant.store import VectorStore
    from bnpl_assistant.wiring import build, ingest_all

    settings = _settings()
    try:
        if VectorStore(settings.index_dir, settings.index_collection, settings.chroma_url).pointer() is None:
            console.print("no index yet: building it, once (about 3 minutes on 2 cores) ...")
            with Progress(TextColumn("embedding"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=err, transient=True) as bar:
                task = bar.add_task("embed", total=None)
                ingest_all(settings, progress=lambda done, total: bar.update(task, completed=done, total=total))
        components = build(settings)
        desk, agents = components.desk(), components.agent_desk()
        warm_up(components.assistant)  # before the first customer, not during their turn
    except BnplError as exc:
        _fail(exc)
    from bnpl_assistant.ui.app import build_app
    from bnpl_assistant.ui.server import run

    console.print(f"serving on http://{host}:{port} (health: /healthz; Ctrl-C to stop)")
    run(build_app(desk, settings, agents), components, host, port)


def _register_plugins() -> None:
    from bnpl_assistant.analytics.command import register as register_analytics
    from bnpl_assistant.deflection.command import register as register_deflection
    from bnpl_assistant.support.command import register as register_handoffs

    register_deflection(app)
    register_handoffs(app)
    register_analytics(app)


_register_plugins()


def main() -> None:
    app(args=hoist_pack(sys.argv[1:]), prog_name="bnpl-assistant")


if __name__ == "__main__":
    main()
