"""Shared fixtures: no network but loopback, data dirs in tmp, one real index built per session."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import pytest

from bnpl_assistant.runtime import quiet_process

if TYPE_CHECKING:  # the modules themselves load after quiet_process() has set the offline environment
    from bnpl_assistant.accounts.service import AccountsService
    from bnpl_assistant.assistant import Assistant
    from bnpl_assistant.ingest import IngestReport
    from bnpl_assistant.settings import Settings
    from bnpl_assistant.wiring import Components, Core
    from postgres import Cluster

quiet_process()

Built: TypeAlias = "tuple[Settings, IngestReport, Assistant]"  # what the session fixture ``built`` gives
DatabaseAt: TypeAlias = Callable[[str], "Path | str"]  # what the fixture ``database_at`` gives

REPO = Path(__file__).resolve().parents[1]
KNOWLEDGE = REPO / "knowledge"
EXTERNAL = REPO.parent / "shared" / "eval-data" / "external.jsonl"
EXTERNAL_MISSING = ("needs the public external test suite ../shared/eval-data/external.jsonl, kept beside the "
                    "repository in the project's workspace (not in the repository); absent in a clone outside it. "
                    "CI has it and runs this test")
_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: object) -> object:
    host = address[0] if isinstance(address, tuple) else address
    if (isinstance(host, str) and (host.startswith("127.") or host in ("localhost", "::1"))) or \
            self.family == socket.AF_UNIX:
        return _real_connect(self, address)  # type: ignore[arg-type]  # whatever connect() was given, passed on
    raise RuntimeError(f"test tried to reach the network: {address!r}")


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A real provider call fails loudly; only 127.0.0.1 is reachable. The data directory (and the
    platform's user data folder it defaults to) point into tmp_path: no test writes into the real one."""
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    for key in ("BNPL_LLM", "BNPL_CHROMA_URL", "BNPL_EMBEDDER", "BNPL_HANDOFF_WEBHOOK", "BNPL_PACK",
                "BNPL_KNOWLEDGE_DIR"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("BNPL_DATA_DIR", str(tmp_path / "bnpl-data"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every data directory points into tmp_path."""
    monkeypatch.setenv("BNPL_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.fixture(scope="session")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, IngestReport, Core]:
    """The shipped knowledge base ingested once into a real Chroma store, and the heavy parts built on it."""
    from bnpl_assistant.settings import Settings
    from bnpl_assistant.wiring import build_core, ingest_all

    settings = Settings(data_dir=tmp_path_factory.mktemp("built"), knowledge_dir=KNOWLEDGE)
    prebuilt = os.environ.get("BNPL_TEST_PREBUILT")  # a local speed-up: start from a built data dir
    if prebuilt:
        for part in ("index", "cache"):
            shutil.copytree(Path(prebuilt) / part, settings.data_dir / part, dirs_exist_ok=True)
    report = ingest_all(settings)
    return settings, report, build_core(settings)


@pytest.fixture(scope="session")
def built(ingested: tuple[Settings, IngestReport, Core]) -> tuple[Settings, IngestReport, Assistant]:
    """The ingested settings and report, and an assistant on the session's core."""
    from bnpl_assistant.wiring import assemble

    settings, report, core = ingested
    return settings, report, assemble(core).assistant


@pytest.fixture(scope="session")
def core(ingested: tuple[Settings, IngestReport, Core]) -> Core:
    """The session's heavy parts (index, classifier, detector), shared by every assistant built on them."""
    return ingested[2]


@pytest.fixture
def components(core: Core, database_at: DatabaseAt) -> Callable[..., Components]:
    """A factory of fresh components on the session's core, each on its own database (``database_at``), e.g.
    ``components(llm=model)``: tests build what they need instead of changing a shared assistant."""
    from bnpl_assistant.wiring import assemble

    count = iter(range(1_000_000))

    def make(**options: Any) -> Components:
        options.setdefault("db_path", database_at(f"components-{next(count)}"))
        return assemble(core, **options)

    return make


@pytest.fixture(scope="session")
def eval_results(core: Core, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[list[Any], dict[str, Any]]]:
    """The README's eval datasets (dev, external where present, accounts, red team), run once per session as
    ``bnpl-assistant eval`` runs them: in that order, on one fresh demo database, no turn log. Rows and
    metrics by dataset name."""
    from bnpl_assistant.evals.dataset import load_dataset
    from bnpl_assistant.evals.runner import dataset_metrics, run_dataset
    from bnpl_assistant.wiring import assemble

    assistant = assemble(core, db_path=tmp_path_factory.mktemp("eval") / "eval.sqlite3", log_turns=False).assistant
    paths = [REPO / "evals" / "dev.jsonl", EXTERNAL, REPO / "evals" / "accounts.jsonl",
             REPO / "evals" / "redteam.jsonl"]
    results = {}
    for path in paths:
        if path.exists():
            dataset = load_dataset(path, set(assistant.topics.ids))
            rows = run_dataset(assistant, dataset)
            results[dataset.name] = (rows, dataset_metrics(rows, dataset, 1.0, core.settings.llm))
    return results


@pytest.fixture(scope="session")
def assistant(built: tuple[Settings, IngestReport, Assistant]) -> Assistant:
    return built[2]


def copy_of_built(built: Built, folder: Path, **overrides: Any) -> Settings:
    """Settings on a fresh data directory holding a copy of the session's index and exemplar-embedding
    cache (so building an assistant there is quick), with its own database."""
    from bnpl_assistant.settings import Settings

    shutil.copytree(built[0].index_dir, folder / "index")
    shutil.copytree(built[0].cache_dir, folder / "cache")
    return Settings(data_dir=folder, knowledge_dir=KNOWLEDGE, **overrides)


ON_POSTGRES = os.environ.get("BNPL_TEST_DATABASE", "sqlite") == "postgresql"  # the second pass of scripts/test.sh


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 for the session (skipped where the server is not installed,
    except in the PostgreSQL pass, which fails instead)."""
    from postgres import Cluster, binaries

    bin_dir = binaries()
    if bin_dir is None:
        if ON_POSTGRES:
            pytest.fail("BNPL_TEST_DATABASE=postgresql but PostgreSQL is not installed (apt-get install postgresql)")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    cluster = Cluster(bin_dir).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def database_at(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[DatabaseAt]:
    """Databases for one test by name: ``database_at("bnpl")`` is a SQLite file in tmp_path or, in the
    PostgreSQL pass (``BNPL_TEST_DATABASE=postgresql``), a fresh database on the session's cluster; the same
    name gives the same database again. Tests marked ``database`` take their databases from here, so the same
    test runs on both backends."""
    from bnpl_assistant.storage import dispose

    made: dict[str, Path | str] = {}

    def make(name: str = "bnpl") -> Path | str:
        if name not in made:
            on_server = ON_POSTGRES
            made[name] = request.getfixturevalue("postgres").create_database() if on_server \
                else tmp_path / f"{name}.sqlite3"
        return made[name]

    yield make
    for target in made.values():
        dispose(target)


@pytest.fixture
def db(database_at: DatabaseAt) -> Path | str:
    """A freshly seeded demo accounts database."""
    from bnpl_assistant.accounts.seed import seed_demo
    from bnpl_assistant.storage import open_database

    target = database_at("bnpl")
    seed_demo(open_database(target))
    return target


@pytest.fixture
def svc(db: Path | str) -> AccountsService:
    from bnpl_assistant.accounts.service import AccountsService
    from bnpl_assistant.storage import open_database

    return AccountsService(open_database(db))


def write_article(root: Path, lang: str, art_id: str, topic: str, body: str, title: str = "A title",
                  extra: str = "") -> Path:
    path = root / lang / f"{art_id}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\nid: {art_id}\ntopic: {topic}\ntitle: {title}\nlanguage: {lang}\n"
                    f"updated: 2026-10-01\n{extra}---\n{body}\n", encoding="utf-8")
    return path


TINY_TOPICS = """topics:
  - {id: late-fees, category: payments, outcome: answer, scope: "late fees"}
  - {id: refund-timing, category: refunds, outcome: answer, scope: "refunds"}
"""


@pytest.fixture
def tiny_kb(tmp_path: Path) -> Path:
    """A two-topic, two-language knowledge base in tmp_path."""
    root = tmp_path / "kb"
    root.mkdir()
    (root / "topics.yaml").write_text(TINY_TOPICS, encoding="utf-8")
    write_article(root, "en", "late-fee", "late-fees", "A late fee of 7 EUR applies after 10 days.\n\n"
                  "## The cap\nLate fees never exceed 35 EUR per order.", title="Late fees")
    write_article(root, "de", "late-fee", "late-fees", "Eine Mahngebühr von 7 EUR fällt nach 10 Tagen an.\n\n"
                  "## Die Obergrenze\nHöchstens 35 EUR pro Bestellung.", title="Verspätungsgebühren")
    write_article(root, "en", "refund-card", "refund-timing", "Refunds reach your card in 3-5 business days."
                  "\n\n## Bank accounts\nA bank account takes 5-7 business days.", title="Refund to card")
    write_article(root, "de", "refund-card", "refund-timing", "Erstattungen erreichen Ihre Karte in 3-5 "
                  "Werktagen.\n\n## Bankkonten\nEin Bankkonto dauert 5-7 Werktage.", title="Erstattung")
    return root
