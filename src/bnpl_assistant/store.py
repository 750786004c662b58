"""The vector store: Chroma, embedded on disk or a Chroma server. The only module that imports chromadb.

Each ingest that changes anything writes a complete new collection and then moves a pointer to it, so a
reader never sees a half-written index. The pointer is the metadata of a tiny collection
``<name>-pointer``; it also records which embedder built the index.

The embedded store also keeps, beside Chroma's files, a copy of what a reader loads: the pointer as
``<name>-pointer.json`` and each published version's chunks with their vectors as ``<version>.snapshot.npz``,
both written by :meth:`VectorStore.publish` (the snapshot before the pointer moves, each file by an atomic
rename). A reader of the embedded store loads those two files and needs no chromadb import: that import and
the client's start are most of a cold ``ask`` (about 0.75 s of 1.6 s on 2 cores). Chroma stays the store
that ingest reads and writes; an index written before these files existed is read through Chroma, and the
files are written then. A Chroma server is always read through Chroma, since other instances publish to it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from bnpl_assistant.errors import (
    ConfigError,
    EmbedderMismatchError,
    IndexMissingError,
    StoreUnavailableError,
)

log = logging.getLogger(__name__)

_CLIENTS: dict[str, Any] = {}
_CLIENTS_LOCK = threading.Lock()
_BATCH = 256
POINTER_TTL_S = 2.0
SNAPSHOT_SUFFIX = ".snapshot.npz"


@dataclass
class StoredChunk:
    id: str
    text: str
    metadata: dict[str, Any]
    embedding: np.ndarray | None = None


@dataclass
class Hit:
    id: str
    text: str
    metadata: dict[str, Any]
    score: float  # cosine similarity


def _client(index_dir: Path, chroma_url: str) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    key = chroma_url or str(index_dir.resolve())
    with _CLIENTS_LOCK:
        if key in _CLIENTS:
            return _CLIENTS[key]
        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if chroma_url:
            url = urlparse(chroma_url if "://" in chroma_url else f"http://{chroma_url}")
            if not url.hostname:
                raise ConfigError(f"BNPL_CHROMA_URL '{chroma_url}' is not a URL like http://127.0.0.1:8000")
            try:
                client = chromadb.HttpClient(
                    host=url.hostname,
                    port=url.port or 8000,
                    ssl=url.scheme == "https",
                    settings=chroma_settings,
                )
            except Exception as exc:  # the client pings the server on construction
                raise StoreUnavailableError(f"Chroma server at {chroma_url} is unreachable: {exc}") from exc
        else:
            index_dir.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(path=str(index_dir), settings=chroma_settings)
        _CLIENTS[key] = client
        return client


def forget_client(index_dir: Path, chroma_url: str = "") -> None:
    """Drop a cached client (tests, or after a server restart)."""
    with _CLIENTS_LOCK:
        _CLIENTS.pop(chroma_url or str(index_dir.resolve()), None)


class VectorStore:
    """Versioned chunk collections behind a pointer."""

    def __init__(self, index_dir: Path, collection: str = "bnpl-kb", chroma_url: str = "") -> None:
        self.index_dir = index_dir
        self.name = collection
        self.chroma_url = chroma_url
        self._active: Any = None
        self._active_name: str | None = None
        self._pointer_cache: tuple[float, dict[str, Any] | None] | None = None

    @property
    def location(self) -> str:
        return self.chroma_url or str(self.index_dir)

    def _client(self) -> Any:
        return _client(self.index_dir, self.chroma_url)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (IndexMissingError, EmbedderMismatchError, ConfigError, StoreUnavailableError):
            raise  # already says what to do (the client raises StoreUnavailableError when unreachable)
        except Exception as exc:
            if self.chroma_url:
                self._active = None
                self._pointer_cache = None
                raise StoreUnavailableError(f"Chroma server at {self.chroma_url} failed: {exc}") from exc
            raise

    def pointer(self, max_age_s: float = POINTER_TTL_S) -> dict[str, Any] | None:
        """The pointer's metadata (``active``, ``embedder``, ``chunks``), or None when no index exists.

        Read at most every ``max_age_s`` seconds (an ingest elsewhere is seen within that time); each read
        costs two store round trips, which would otherwise dominate a 20 ms turn.
        """
        now = time.monotonic()
        if self._pointer_cache is not None and now - self._pointer_cache[0] < max_age_s:
            return self._pointer_cache[1]

        def read() -> dict[str, Any] | None:
            client = self._client()
            names = {c if isinstance(c, str) else c.name for c in client.list_collections()}
            if f"{self.name}-pointer" not in names:
                return None
            meta = client.get_collection(f"{self.name}-pointer").metadata or {}
            return dict(meta) if meta.get("active") else None

        value = self._read_mirror() if self.embedded else None
        if value is None:
            value = self._call(read)
            if value is not None and self.embedded:
                self._write_mirror(value)
        self._pointer_cache = (now, value)
        return value

    def check(self, expected_embedder: str | None = None) -> dict[str, Any]:
        """The pointer, once it is known to name an index built by ``expected_embedder``.

        Raises:
            IndexMissingError: nothing was ingested yet.
            EmbedderMismatchError: the index was built by another embedder.
        """
        ptr = self.pointer()
        if ptr is None:
            raise IndexMissingError(f"no index at {self.location}: run `bnpl-assistant ingest`")
        if expected_embedder and ptr.get("embedder") != expected_embedder:
            raise EmbedderMismatchError(
                f"the index at {self.location} was built with '{ptr.get('embedder')}' but the configured "
                f"embedder is '{expected_embedder}': run `bnpl-assistant ingest --rebuild`"
            )
        return ptr

    def active(self, expected_embedder: str | None = None) -> Any:
        """The live collection (a Chroma handle; raises as :meth:`check` does)."""
        ptr = self.check(expected_embedder)
        if self._active is None or self._active_name != ptr["active"]:
            self._active = self._call(self._client().get_collection, ptr["active"])
            self._active_name = ptr["active"]
        return self._active

    @property
    def embedded(self) -> bool:
        """An on-disk store of this process (not a Chroma server)."""
        return not self.chroma_url

    def _mirror_path(self) -> Path:
        return self.index_dir / f"{self.name}-pointer.json"

    def _snapshot_path(self, version: str) -> Path:
        return self.index_dir / f"{version}{SNAPSHOT_SUFFIX}"

    def _read_mirror(self) -> dict[str, Any] | None:
        try:
            value = json.loads(self._mirror_path().read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # absent (an index from before the file existed) or unreadable: Chroma decides
        return value if isinstance(value, dict) and value.get("active") else None

    def _write_mirror(self, pointer: dict[str, Any]) -> None:
        _write_atomic(self._mirror_path(), lambda f: f.write(json.dumps(pointer, sort_keys=True).encode()))

    def _write_snapshot(self, version: str, chunks: list[StoredChunk]) -> None:
        if any(c.embedding is None for c in chunks):
            return
        chunks = sorted(chunks, key=lambda c: c.id)
        arrays = {
            "ids": np.array([c.id for c in chunks], dtype=str),
            "texts": np.array([c.text for c in chunks], dtype=str),
            "metadatas": np.array([json.dumps(c.metadata, sort_keys=True) for c in chunks], dtype=str),
            "embeddings": (np.stack([np.asarray(c.embedding, dtype=np.float32) for c in chunks])
                           if chunks else np.zeros((0, 0), dtype=np.float32)),
        }
        _write_atomic(self._snapshot_path(version), lambda f: np.savez(f, allow_pickle=False, **arrays))

    def _read_snapshot(self, version: str) -> list[StoredChunk] | None:
        try:
            with np.load(self._snapshot_path(version), allow_pickle=False) as data:
                ids, texts, metas, vectors = data["ids"], data["texts"], data["metadatas"], data["embeddings"]
        except (OSError, ValueError, KeyError):
            return None  # absent, or replaced by a newer version meanwhile: Chroma decides
        return [StoredChunk(str(ids[i]), str(texts[i]), json.loads(str(metas[i])), vectors[i])
                for i in range(len(ids))]

    def all_chunks(self, with_embeddings: bool = False) -> list[StoredChunk]:
        """Every chunk of the live index, sorted by id (empty list when there is none)."""
        ptr = self.pointer(max_age_s=0)
        if ptr is None:
            return []
        if not self.embedded:
            return self._chroma_chunks(with_embeddings)
        chunks = self._read_snapshot(str(ptr["active"]))
        if chunks is None:  # an index from before the reader copy: read it through Chroma, and write the copy
            chunks = self._chroma_chunks(with_embeddings=True)
            self._write_snapshot(str(ptr["active"]), chunks)
        return chunks if with_embeddings else [StoredChunk(c.id, c.text, c.metadata) for c in chunks]

    def _chroma_chunks(self, with_embeddings: bool) -> list[StoredChunk]:
        include = ["documents", "metadatas"] + (["embeddings"] if with_embeddings else [])
        got = self._call(self.active().get, include=include)
        embeddings = got.get("embeddings") if with_embeddings else None
        out = []
        for i, cid in enumerate(got["ids"]):
            emb = np.asarray(embeddings[i], dtype=np.float32) if embeddings is not None else None
            out.append(StoredChunk(cid, got["documents"][i], dict(got["metadatas"][i]), emb))
        out.sort(key=lambda c: c.id)
        return out

    def publish(self, chunks: list[StoredChunk], embedder: str) -> str:
        """Write ``chunks`` (with embeddings) into a fresh collection, then point readers at it."""

        def write() -> str:
            client = self._client()
            ptr = self.pointer(max_age_s=0)
            version = int(ptr.get("version", 0)) + 1 if ptr else 1
            new_name = f"{self.name}-v{version}"
            with contextlib.suppress(Exception):  # absent is the normal case
                client.delete_collection(new_name)  # left over by an interrupted ingest
            coll = client.create_collection(
                new_name, metadata={"hnsw:space": "cosine", "embedder": embedder}, embedding_function=None
            )
            for start in range(0, len(chunks), _BATCH):
                part = chunks[start : start + _BATCH]
                coll.add(
                    ids=[c.id for c in part],
                    documents=[c.text for c in part],
                    metadatas=[c.metadata for c in part],
                    embeddings=np.stack([c.embedding for c in part]).astype(np.float32),  # type: ignore[misc]  # publish needs them
                )
            if self.embedded:  # what a reader loads without Chroma, in place before the pointer moves
                self._write_snapshot(new_name, chunks)
            pointer = client.get_or_create_collection(f"{self.name}-pointer", embedding_function=None)
            metadata = {"active": new_name, "embedder": embedder, "version": version, "chunks": len(chunks)}
            pointer.modify(metadata=metadata)
            if self.embedded:
                self._write_mirror(metadata)
            if ptr and ptr.get("active") != new_name:
                try:
                    client.delete_collection(ptr["active"])
                except Exception as exc:  # noqa: BLE001 - an old version left behind is harmless
                    log.warning("could not delete old collection %s: %s", ptr["active"], exc)
                with contextlib.suppress(OSError):
                    self._snapshot_path(str(ptr["active"])).unlink(missing_ok=True)
            self._active = None
            self._pointer_cache = None
            return new_name

        return self._call(write)

    def query(self, embedding: np.ndarray, k: int, expected_embedder: str | None = None,
              where: dict[str, Any] | None = None) -> list[Hit]:
        """Nearest chunks by cosine similarity.

        When another instance has just published a new version (and deleted the one this instance held), the
        first query fails: the pointer is re-read once and the query repeated on the live collection.
        """
        query = {"query_embeddings": [np.asarray(embedding, dtype=np.float32)], "n_results": k, "where": where,
                 "include": ["documents", "metadatas", "distances"]}
        try:
            res = self.active(expected_embedder).query(**query)
        except (IndexMissingError, EmbedderMismatchError, ConfigError):
            raise
        except Exception:  # noqa: BLE001 - stale collection handle or a transient store error: retry once
            self._active = None
            self._pointer_cache = None
            res = self._call(lambda: self.active(expected_embedder).query(**query))
        hits = []
        for cid, doc, meta, dist in zip(res["ids"][0], res["documents"][0], res["metadatas"][0],
                                        res["distances"][0], strict=True):
            hits.append(Hit(cid, doc, dict(meta), 1.0 - float(dist)))
        return hits

    def heartbeat(self) -> bool:
        try:
            self._client().heartbeat()
            return True
        except Exception:  # noqa: BLE001 - any failure means "not reachable"
            if self.chroma_url:
                forget_client(self.index_dir, self.chroma_url)
            return False


def _write_atomic(path: Path, write: Any) -> None:
    """Write a file through a temporary one in the same folder and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as f:
            write(f)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
