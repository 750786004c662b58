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

from bnpl_assistant.errors import BnplError, DataError
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
def report(
    out: Annotated[Path, typer.Option("--out", help="Output folder (report.md, report.json, PNG plots).")],
    since: Annotated[str, typer.Option(help="A span back from now (7d, 12h, 2w) or a date (2026-11-01).")] = "7d",
    until: Annotated[str | None, typer.Option(help="End of the window (a date); default: now.")] = None,
    monthly_contacts: Annotated[float | None, typer.Option(help="Contacts a month for the FTE figures (default: "
                                                                "the demo preset's).")] = None,
    db: Annotated[Path | None, typer.Option(help="The database to read (default: the live one).")] = None,
    eval_dir: Annotated[Path, typer.Option("--eval", help="An `eval --out` folder: its dev set's per-topic "
                                                         "resolution is set beside the log's.")] = Path("out/eval"),
) -> None:
    """Outcome analytics from the live log: coverage, autonomous and durable resolution, hand-offs by reason,
    reopens, CSAT and time to resolution for the assistant and for agents, by day, topic and language, and the
    hours and FTE that resolution means (definitions: docs/metrics.md)."""
    from datetime import UTC, datetime

    from bnpl_assistant.analytics import report as analytics
    from bnpl_assistant.evals.export import parse_since

    settings = _settings()
    now = datetime.now(UTC)
    try:
        content = analytics.build(db or settings.db_path, parse_since(since, now),
                                  parse_since(until, now) if until else None, now, monthly_contacts,
                                  eval_dir if eval_dir.is_dir() else None)
        written = analytics.write(content, out)
    except BnplError as exc:
        _fail(exc)
    o = content["overall"]

    def pct(key: str) -> str:
        return "-" if o[key]["value"] is None else f"{o[key]['value']:.1%}"

    console.print(f"{o['conversations']} conversations: autonomous resolution {pct('autonomous_resolution')}, "
                  f"durable {pct('durable_resolution')}, hand-offs {pct('handoff_rate')}, CSAT assistant "
                  f"{pct('csat_assistant')} / agents {pct('csat_agent')}", highlight=False)
    console.print(f"report: {written[0]}", highlight=False)


@app.command()
def simulate(
    conversations: Annotated[int, typer.Option(min=1, max=100_000, help="Conversations to simulate.")] = 2000,
    seed: Annotated[int, typer.Option(help="The same seed on the same data gives the same log.")] = 7,
    days: Annotated[float, typer.Option(min=0.01, help="Spread over this many days, ending now.")] = 7.0,
    db: Annotated[Path | None, typer.Option(help="Database to write to (default: a fresh simulation.sqlite3 in "
                                                 "the data directory; the live one only when named).")] = None,
    dataset: Annotated[Path | None, typer.Option(help="Scripts from this eval dataset (default: evals/dev.jsonl "
                                                      "beside the demo pack, else the pack's tickets).")] = None,
) -> None:
    """A week of scripted traffic through the real assistant and agent desk (follow-ups, thumbs, ratings,
    hand-offs answered by agents, customers coming back), deterministic for a seed; `report --db` shows it."""
    from bnpl_assistant.analytics.simulate import SimClock, load_scripts, week_start
    from bnpl_assistant.analytics.simulate import simulate as run_simulation
    from bnpl_assistant.packs.tickets import read_tickets
    from bnpl_assistant.wiring import assemble, build_core

    settings = _settings()
    target = db or settings.data_dir / "simulation.sqlite3"
    try:
        core = build_core(settings)
        dev = dataset or settings.knowledge_dir.parent / "evals" / "dev.jsonl"
        if dataset is not None and not dataset.is_file():
            raise DataError("no such dataset", str(dataset))
        rows = [] if dev.is_file() else [(t.text, t.language or settings.default_language, t.label)
                                         for t in read_tickets(settings.pack.ticket_files, set(core.topics.ids))]
        scripts = load_scripts(dev if dev.is_file() else None, rows)
        if db is None:
            for leftover in settings.data_dir.glob("simulation.sqlite3*"):  # the simulation's own scratch file
                leftover.unlink()
        clock = SimClock(week_start(days=days))
        parts = assemble(core, db_path=target, clock=clock)
        desk, agents = parts.desk(), parts.agent_desk()
        customers = [c.id for c in parts.accounts.list_customers()] if parts.accounts else []
        with Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err, transient=True) as bar:
            task = bar.add_task("simulating", total=conversations)
            summary = run_simulation(desk, agents, clock, scripts, customers, conversations, seed, days,
                                     progress=lambda n: bar.advance(task, n))
    except BnplError as exc:
        _fail(exc)
    console.print_json(json.dumps(summary.to_dict()))
    console.print(f"database: {target}  (then: bnpl-assistant report --db {target} --since {int(days + 1)}d "
                  "--out out/report)", highlight=False)


@app.command()
def gaps(
    out: Annotated[Path, typer.Option("--out", help="Output folder (gaps.md, gaps.json).")],
    since: Annotated[str, typer.Option(help="A span back from now (30d, 12h, 2w) or a date (2026-11-01).")] = "30d",
    db: Annotated[Path | None, typer.Option(help="The database to read (default: the live one).")] = None,
    drafts: Annotated[bool, typer.Option(help="Write draft articles (marked draft, never indexed) into the pack "
                                              "where agents answered a cluster's conversations.")] = True,
) -> None:
    """The questions the assistant did not resolve, clustered: size, trend, examples, the nearest article and a
    suggested action; draft article skeletons from agents' replies for a person to finish."""
    from datetime import UTC, datetime

    from bnpl_assistant.analytics.gaps import passages_of, report_gaps
    from bnpl_assistant.classify.exemplars import EmbeddingCache
    from bnpl_assistant.evals.export import parse_since
    from bnpl_assistant.kb.validate import load_knowledge
    from bnpl_assistant.providers.factory import make_chat_model, make_embedder
    from bnpl_assistant.store import VectorStore
    from bnpl_assistant.wiring import pack_exemplars

    settings = _settings()
    now = datetime.now(UTC)
    try:
        embedder = make_embedder(settings)
        store = VectorStore(settings.index_dir, settings.index_collection, settings.chroma_url)
        store.check(embedder.name)
        articles = settings.knowledge_dir / "articles"
        kb = load_knowledge(settings.knowledge_dir, settings.languages)
        reference = EmbeddingCache(settings.cache_dir, embedder).embed([e.text for e in pack_exemplars(settings, kb)])
        found, unresolved = report_gaps(
            db or settings.db_path, embedder.embed_queries, passages_of(store.all_chunks(with_embeddings=True)),
            parse_since(since, now), now.isoformat(timespec="milliseconds"), out,
            (articles if articles.is_dir() else settings.knowledge_dir) if drafts else None, reference,
            make_chat_model(settings) if drafts and settings.llm != "offline" else None)
    except BnplError as exc:
        _fail(exc)
    for k, gap in enumerate(found, 1):
        console.print(f"{k}. {gap.size} x \"{gap.examples[0]}\" ({gap.trend}) -> {gap.action}"
                      + (f" [draft: {gap.draft}]" if gap.draft else ""), highlight=False, markup=False)
    console.print(f"{unresolved} unresolved messages, {len(found)} clusters; report: {out / 'gaps.md'}",
                  highlight=False)


@app.command("export-evals")
def export_evals(
    out: Annotated[Path, typer.Option("--out", help="The JSON Lines file to write.")],
    flagged: Annotated[bool, typer.Option("--flagged", help="Conversations with a thumbs-down, a hand-off or a "
                                                            "reopened ticket (the only selection so far).")] = False,
    since: Annotated[str, typer.Option(help="A span back from now (30d, 12h, 2w) or a date (2026-11-01).")] = "30d",
) -> None:
    """Write flagged conversations from the log as unlabelled eval tickets (redacted; the assistant's outcome and
    topic as a suggestion) for a person to label; `eval` skips rows still unlabelled."""
    from bnpl_assistant.evals.export import export_flagged, parse_since

    if not flagged:
        _fail(DataError("say which conversations: --flagged (thumbs-down, handed off or reopened)"))
    settings = _settings()
    try:
        count = export_flagged(settings.db_path, out, parse_since(since))
    except BnplError as exc:
        _fail(exc)
    console.print(f"wrote {count} unlabelled tickets to {out}: fill in expected_outcome and expected_topic, then "
                  f"`bnpl-assistant eval --dataset {out}`", highlight=False)


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
    counts = seed(open_database(settings.db_path), reset=reset)
    console.print(f"demo database: {settings.db_path}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 7860,
) -> None:
    """Build the index and demo accounts if missing, then serve the Gradio page."""
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
    except BnplError as exc:
        _fail(exc)
    from bnpl_assistant.ui.app import build_app

    console.print(f"serving on http://{host}:{port} (Ctrl-C to stop)")
    build_app(desk, settings, agents).launch(server_name=host, server_port=port, show_error=False, quiet=True,
                                     footer_links=["api"])


def _register_plugins() -> None:
    from bnpl_assistant.deflection.command import register as register_deflection
    from bnpl_assistant.support.command import register as register_handoffs

    register_deflection(app)
    register_handoffs(app)


_register_plugins()


def main() -> None:
    app(args=hoist_pack(sys.argv[1:]), prog_name="bnpl-assistant")


if __name__ == "__main__":
    main()
