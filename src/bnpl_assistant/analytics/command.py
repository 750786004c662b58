"""The operator's-loop CLI commands: ``report``, ``gaps``, ``export-evals``, ``simulate``. Hold no business logic
(``analytics/`` and ``evals/export.py`` do); ``register(app)`` adds them to the main Typer app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bnpl_assistant.errors import BnplError, DataError
from bnpl_assistant.settings import Settings

console = Console()
err = Console(stderr=True)


def _settings() -> Settings:
    return Settings()


def _fail(exc: BnplError, code: int = 1) -> NoReturn:
    err.print(f"[bold red]error:[/] {exc}", soft_wrap=True, highlight=False)
    raise typer.Exit(code)


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
        content = analytics.build(db or settings.database, parse_since(since, now),
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
            db or settings.database, embedder.embed_queries, passages_of(store.all_chunks(with_embeddings=True)),
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
        count = export_flagged(settings.database, out, parse_since(since))
    except BnplError as exc:
        _fail(exc)
    console.print(f"wrote {count} unlabelled tickets to {out}: fill in expected_outcome and expected_topic, then "
                  f"`bnpl-assistant eval --dataset {out}`", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``report``, ``gaps``, ``export-evals`` and ``simulate`` to a Typer app."""
    app.command("report")(report)
    app.command("gaps")(gaps)
    app.command("export-evals")(export_evals)
    app.command("simulate")(simulate)
