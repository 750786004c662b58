"""``bnpl-assistant onboard``: make a pack from an operator's help center and labelled tickets, build it, and
forecast what the assistant would resolve, by cross-validation on the operator's own tickets.

1. Read and check every input before anything is written: the help-center export (``packs/docs.py``), the
   tickets (``packs/tickets.py``), the pack as it is. A bad file stops onboarding with its name and line, and
   the pack is left as it was.
2. Write the pack: ``pack.yaml`` when there is none, one article per document under
   ``articles/<lang>/<id>.md`` (its language detected when the export does not say), a topic per folder (or
   per article when nothing groups them), a topic per ticket label that ``topics.yaml`` lacks, the tickets
   copied under ``tickets/``. The new pack is assembled in a temporary folder, validated, and only then moved
   into place.
3. Build what serving needs, as ``ingest`` does: the index and the exemplar embeddings (``ingest_all``), then
   the serving classifier (``train_classifiers``), in a process of its own while step 4 runs.
4. Cross-validate on the tickets (``crossval.py``), choose the thresholds, write ``thresholds.yaml``.
5. Write ``onboarding.json`` and ``onboarding.md`` (``packs/report.py``).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import multiprocessing
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bnpl_assistant.errors import DataError
from bnpl_assistant.kb.topics import load_topics
from bnpl_assistant.kb.validate import check_knowledge
from bnpl_assistant.packs.pack import NAME, load_pack, slug, write_pack_yaml
from bnpl_assistant.packs.tickets import SPECIAL_LABELS, LabelledTicket, read_tickets

Progress = Callable[[str, int, int], None]


@dataclass
class Inputs:
    """What onboarding was given, read and checked."""

    docs: list[Any] = field(default_factory=list)  # packs.docs.ImportedDoc
    skipped: list[Path] = field(default_factory=list)
    tickets: dict[Path, list[LabelledTicket]] = field(default_factory=dict)


def read_inputs(docs: Path | None, tickets: list[Path]) -> Inputs:
    """Read the help-center export and the ticket files (any label accepted: new labels become topics).

    Raises:
        DataError: a malformed file, naming it (and the line).
    """
    inputs = Inputs()
    if docs is not None:
        from bnpl_assistant.packs.docs import import_help_center

        if not docs.exists():
            raise DataError("no such help-center export", str(docs))
        center = import_help_center(docs)
        inputs.docs, inputs.skipped = list(center.docs), list(center.skipped)
    for path in tickets:
        inputs.tickets[path] = read_tickets([path], None)
    return inputs


def _article_text(doc: Any, topic: str, language: str, today: str) -> str:
    meta = {"id": doc.id, "topic": topic, "title": doc.title, "language": language, "updated": today,
            "source": doc.source}
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n\n" + doc.text.strip() + "\n"


def _ticket_file_name(path: Path, taken: set[str]) -> str:
    base = slug(path.stem) or "tickets"
    name = f"{base}{path.suffix}"
    n = 2
    while name in taken:
        name = f"{base}-{n}{path.suffix}"
        n += 1
    taken.add(name)
    return name


def assemble(pack_dir: Path, inputs: Inputs, detect: Callable[[str], str]) -> Path:
    """The new pack in a temporary folder (the old pack's files, plus what the inputs add), validated.

    Returns:
        The temporary folder (the caller moves it into place, or removes it).

    Raises:
        DataError: the result does not validate, or there is nothing to build from.
    """
    stage = Path(tempfile.mkdtemp(prefix="bnpl-onboard-"))
    try:
        if pack_dir.is_dir():
            shutil.copytree(pack_dir, stage, dirs_exist_ok=True)
        topics_path = stage / "topics.yaml"
        entries: list[dict[str, Any]] = []
        if topics_path.is_file():
            raw = yaml.safe_load(topics_path.read_text(encoding="utf-8")) or {}
            entries = list(raw.get("topics") or [])
        known = {str(e.get("id")) for e in entries if isinstance(e, dict)}

        def add_topic(topic_id: str, title: str, category: str, intent_only: bool = False) -> None:
            if topic_id not in known:
                known.add(topic_id)
                entries.append({"id": topic_id, "title": title, "category": category, "outcome": "answer",
                                **({"intent_only": True} if intent_only else {})})

        today = dt.date.today().isoformat()
        grouped = sum(1 for d in inputs.docs if d.topic_hint) == len(inputs.docs) and inputs.docs
        languages: Counter[str] = Counter()
        for doc in inputs.docs:
            language = doc.language or detect(f"{doc.title}\n{doc.text[:2000]}")
            languages[language] += 1
            topic = doc.topic_hint if grouped else doc.id
            add_topic(topic, doc.topic_hint.replace("-", " ") if grouped else doc.title, doc.topic_hint or "help")
            folder = stage / "articles" / language
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{doc.id}.md").write_text(_article_text(doc, topic, language, today), encoding="utf-8")
        taken = {p.name for p in (stage / "tickets").glob("*")} if (stage / "tickets").is_dir() else set()
        for path in inputs.tickets:
            (stage / "tickets").mkdir(exist_ok=True)
            shutil.copyfile(path, stage / "tickets" / _ticket_file_name(path, taken))
        # Every label of the pack's tickets (those it had and those just added) that is not a topic becomes one.
        staged = sorted(p for p in (stage / "tickets").glob("*") if p.suffix in (".jsonl", ".csv"))
        for row in read_tickets(staged, None) if staged else []:
            if row.label not in SPECIAL_LABELS:
                add_topic(row.label, row.label.replace("_", " ").replace("-", " "), "intents", intent_only=True)
            languages[row.language or "en"] += 1
        if entries:
            topics_path.write_text("# Topics of this pack (see docs/packs.md); onboarding adds one per new label "
                                   "or help-center folder.\n" + yaml.safe_dump({"topics": entries}, sort_keys=False,
                                                                                allow_unicode=True), encoding="utf-8")
        if not (stage / "pack.yaml").is_file():
            name = slug(pack_dir.resolve().name)[:60]
            langs = [code for code, _ in languages.most_common()] or ["en"]
            write_pack_yaml(stage, name if NAME.match(name) else "pack", pack_dir.resolve().name, langs, langs[0])
        _check(stage, pack_dir)
        return stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _check(stage: Path, pack_dir: Path) -> None:
    """The staged pack validates (problems are reported with the pack's own paths)."""
    try:
        _validate(stage)
    except DataError as exc:
        where = exc.path.replace(str(stage), str(pack_dir)) if exc.path else str(pack_dir)
        raise DataError(str(exc).split(": ", 1)[-1] if exc.path else str(exc), where, exc.line) from exc


def _validate(stage: Path) -> None:
    pack = load_pack(stage)
    if not (stage / "topics.yaml").is_file():
        raise DataError("a pack with no tickets and no articles: give --docs and/or --tickets", str(stage))
    topics = load_topics(stage / "topics.yaml")
    kb, problems = check_knowledge(stage, pack.languages)
    if problems or kb is None:
        first = problems[0]
        raise DataError(first.message, first.path, first.line)
    if not kb.articles and not pack.ticket_files:
        raise DataError("a pack with no tickets and no articles: give --docs and/or --tickets", str(stage))
    read_tickets(pack.ticket_files, set(topics.ids))


def install(stage: Path, pack_dir: Path) -> None:
    """Move the staged pack into place: its files replace the old ones; files only the old pack had stay."""
    pack_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(stage.rglob("*")):
        target = pack_dir / path.relative_to(stage)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".onboarding-tmp")
            shutil.copyfile(path, tmp)
            tmp.replace(target)
    shutil.rmtree(stage, ignore_errors=True)


def onboard(pack_dir: Path, docs: Path | None = None, tickets: list[Path] | None = None,
            monthly_contacts: float | None = None, data_dir: Path | None = None, folds: int = 5,
            progress: Progress | None = None) -> dict[str, Any]:
    """Onboard ``pack_dir`` (see the module docstring) and return the report (also written to the pack).

    Raises:
        DataError: a malformed input (file and line named); the pack is then unchanged.
        BnplError: the index could not be built (for example an unreachable Chroma server).
    """
    from bnpl_assistant.language import LanguageDetector
    from bnpl_assistant.languages import SUPPORTED
    from bnpl_assistant.packs import report as reporting
    from bnpl_assistant.settings import Settings

    started = time.perf_counter()
    say = progress or (lambda stage, done, total: None)
    say("reading inputs", 0, 1)
    inputs = read_inputs(docs, tickets or [])
    detector = LanguageDetector(SUPPORTED, "en")
    stage = assemble(pack_dir, inputs, lambda text: detector.detect(text).language)
    install(stage, pack_dir)
    timings = {"read_and_write_pack": time.perf_counter() - started}

    settings = Settings(knowledge_dir=pack_dir) if data_dir is None else Settings(knowledge_dir=pack_dir,
                                                                                   data_dir=data_dir)
    step = time.perf_counter()
    from bnpl_assistant.wiring import ingest_all, train_classifiers

    ingest_all(settings, progress=lambda done, total: say("indexing articles", done, total), train=False)
    timings["index_and_embeddings"] = time.perf_counter() - step

    # The serving classifier trains in its own process while the folds train in theirs: the cores stay busy
    # through the last round of folds instead of waiting on one fit before the first (same models either way).
    step = time.perf_counter()
    with _alongside(train_classifiers, settings) as serving:
        result = cross_validate(settings, folds, say)
        say("training the serving classifier", 0, 1)
        serving.result()
    timings["classifier_and_cross_validation"] = time.perf_counter() - step
    timings["total"] = time.perf_counter() - started
    out = (reporting.build(settings, result, monthly_contacts, inputs.skipped, timings) if result is not None
           else reporting.without_tickets(settings, folds, inputs.skipped, timings))
    reporting.write(pack_dir, out)
    return out


@contextlib.contextmanager
def _alongside(job: Callable[[Any], None], argument: Any) -> Iterator[concurrent.futures.Future[None]]:
    """``job(argument)`` running in a forked process while the caller works (run first, in this process, where
    fork does not exist); its future re-raises what the job raised."""
    if "fork" not in multiprocessing.get_all_start_methods():
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        job(argument)
        done.set_result(None)
        yield done
        return
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        yield pool.submit(job, argument)


@dataclass
class CrossValidated:
    """The cross-validation and what was chosen from it."""

    oof: Any  # crossval.OutOfFold
    thresholds: Any  # policy.Thresholds
    topics: Any  # kb.topics.TopicCatalog
    answerable: set[str]
    article_topics: Counter[str]
    ticket_counts: Counter[str]


def cross_validate(settings: Any, folds: int, say: Progress) -> CrossValidated | None:
    """Out-of-fold scores on the pack's tickets, the thresholds chosen from them (written to the pack); None when
    the pack has fewer labelled tickets than folds (its thresholds then stay as they are)."""
    from bnpl_assistant.classify.exemplars import EmbeddingCache, ticket_exemplar
    from bnpl_assistant.kb.validate import load_knowledge
    from bnpl_assistant.packs import crossval
    from bnpl_assistant.policy import load_thresholds
    from bnpl_assistant.providers.factory import make_embedder
    from bnpl_assistant.wiring import pack_exemplars

    pack = settings.pack
    kb = load_knowledge(settings.knowledge_dir, settings.languages)
    exemplars = pack_exemplars(settings, kb)
    tickets = read_tickets(pack.ticket_files, set(kb.topics.ids))
    say("embedding tickets", 0, 1)
    vectors = EmbeddingCache(settings.cache_dir, make_embedder(settings)).embed([e.text for e in exemplars])
    row_of = {e.text: i for i, e in enumerate(exemplars)}
    chosen: dict[str, tuple[int, str, str]] = {}  # text -> (row, label, file): the first label of a text wins
    for ticket in tickets:
        exemplar = ticket_exemplar(ticket)
        row = row_of.get(exemplar.text)
        if row is not None and exemplars[row] == exemplar and exemplar.text not in chosen:
            chosen[exemplar.text] = (row, ticket.label, Path(ticket.where.rsplit(":", 1)[0]).name)
    if len(chosen) < folds:
        return None
    rows = [r for r, _, _ in chosen.values()]
    labels = [label for _, label, _ in chosen.values()]
    sources = [source for _, _, source in chosen.values()]
    oof = crossval.out_of_fold(exemplars, vectors, rows, sources, labels, folds, say)
    base = load_thresholds(pack.optional("thresholds.yaml"))
    thresholds = crossval.choose_thresholds(oof, base=base)
    write_thresholds(pack.root / "thresholds.yaml", thresholds, folds)
    article_topics = Counter(a.topic for a in kb.articles)
    answerable = set(article_topics) | {t.id for t in kb.topics if t.answer}
    return CrossValidated(oof, thresholds, kb.topics, answerable, article_topics, Counter(labels))


def write_thresholds(path: Path, thresholds: Any, folds: int) -> None:
    from bnpl_assistant.packs.crossval import BUDGETS

    header = (f"# Decision thresholds for this pack, chosen by `bnpl-assistant onboard` on {dt.date.today()} from\n"
              f"# {folds}-fold out-of-fold scores of the pack's own tickets: the most sensitive value whose false\n"
              f"# triggers on in-scope tickets stay within {BUDGETS}. Re-run onboarding to choose them again.\n")
    body = {"thresholds": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in thresholds.__dict__.items()}}
    path.write_text(header + yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
