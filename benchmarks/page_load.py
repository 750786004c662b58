"""The Gradio page under load: page-load time, concurrent customers, throughput and memory.

Starts `bnpl-assistant serve` on 127.0.0.1 as a subprocess on the benchmark's built data dir, then:
- page load: time from navigation to the chat box being usable, in headless Chromium (when installed);
- load: 20 simulated customers (threads, one gradio_client session each), 10 turns each, bounded in count and
  time, against the queue API; throughput, p50/p95 reply time, errors. A customer reads the reply and types
  the next message: 1-3 s of think time (seeded), far less than a real chat customer's 10-60 s, so the load
  is heavier than 20 real customers. The same 20 customers are also run closed-loop (no think time, 5 turns
  each), the saturation case, reported beside it;
- memory: the server's RSS idle, peak during the load, and after 100 conversations in total.
All traffic goes to 127.0.0.1 only, and the server is stopped by its pid.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from benchmarks.common import BenchContext, BenchResult, Metric, free_port, percentiles, read_jsonl

CUSTOMERS = 20
TURNS = 10
THINK_S = (1.0, 3.0)  # reading the reply and typing the next message, uniform; real customers take longer
SATURATION_TURNS = 5
EXTRA_CONVERSATIONS = 100 - CUSTOMERS  # to reach 100 conversations for the RSS figure
DEADLINE_S = 300.0
REPO = Path(__file__).resolve().parents[1]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _page_load_ms(url: str) -> float | None:
    chromium = shutil.which("chromium")
    if not chromium:
        return None
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page()
        page.goto(url)  # warm the server's static files once
        times = []
        for _ in range(3):
            started = time.perf_counter()
            page.goto(url)
            page.wait_for_selector("#message textarea", timeout=60_000)
            times.append((time.perf_counter() - started) * 1000)
        browser.close()
    return sorted(times)[1]


def _wait_until_up(url: str, limit_s: float = 180.0) -> float | None:
    """Seconds until the page answered 200, or None when it did not within ``limit_s``."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit_s:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            time.sleep(0.5)
    return None


class _Customers:
    """Simulated customers, each a gradio_client session sending the dev set's messages until the deadline."""

    def __init__(self, url: str, messages: list[str]) -> None:
        self.url = url
        self.messages = messages
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.deadline = time.perf_counter() + DEADLINE_S

    def run(self, index: int, turns: int, into: list[float], think: bool = True) -> None:
        """One customer's conversation; each reply time (ms) goes into ``into``, each failure into errors."""
        from gradio_client import Client

        client = Client(self.url, verbose=False)
        pause = random.Random(index)
        history: list = []
        for turn in range(turns):
            if time.perf_counter() > self.deadline:
                return
            if think:
                time.sleep(pause.uniform(*THINK_S))
            text = self.messages[(index * 7 + turn) % len(self.messages)]
            t0 = time.perf_counter()
            try:
                history, _, _, _ = client.predict(text, history, "auto", "", api_name="/chat")
            except Exception as exc:  # noqa: BLE001 - counted as an error of the run
                with self.lock:
                    self.errors.append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            with self.lock:
                into.append((time.perf_counter() - t0) * 1000)

    def crowd(self, workers: int, count: int, turns: int, into: list[float], think: bool = True,
              first: int = 0) -> float:
        """``count`` customers (numbered from ``first``) on ``workers`` threads; returns the seconds taken."""
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda i: self.run(first + i, turns, into, think), range(count)))
        return time.perf_counter() - started


class _PeakRss:
    """Samples a process's RSS every 0.2 s in a background thread and keeps the highest."""

    def __init__(self, pid: int, start_mb: float) -> None:
        self.pid = pid
        self.peak = start_mb
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_mb(self.pid))
            self._stop.wait(0.2)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _metrics(startup_s: float, load_ms: float | None, latencies: list[float], errors: list[str], load_s: float,
             saturated: list[float], saturated_s: float, idle_mb: float, peak_mb: float,
             after_100_mb: float) -> list[Metric]:
    p = percentiles(latencies)
    q = percentiles(saturated)
    return [
        Metric("server start (index present) to first 200", round(startup_s, 1), "s"),
        Metric("page load to usable chat box (median of 3)", None if load_ms is None else round(load_ms), "ms"),
        Metric("replies under load", len(latencies), ""),
        Metric("errors under load", len(errors), "", "0", len(errors) == 0),
        Metric("throughput", round(len(latencies) / load_s, 1) if load_s else None, "replies/s"),
        Metric("reply p50 under load", round(p["p50"], 1), "ms"),
        Metric("reply p95 under load", round(p["p95"], 1), "ms", "<= 500", p["p95"] <= 500),
        Metric("closed loop (no think time): throughput",
               round(len(saturated) / saturated_s, 1) if saturated_s else None, "replies/s"),
        Metric("closed loop (no think time): reply p50", round(q["p50"], 1), "ms"),
        Metric("closed loop (no think time): reply p95", round(q["p95"], 1), "ms"),
        Metric("server RSS idle", round(idle_mb), "MB"),
        Metric("server RSS peak during load", round(peak_mb), "MB", "<= 900", peak_mb <= 900),
        Metric("server RSS after 100 conversations", round(after_100_mb), "MB"),
    ]


def _notes(errors: list[str]) -> list[str]:
    return [
        "Reply time is measured at the client through the queue API (gradio_client), so it "
        "includes queueing and HTTP; the queue runs 4 handlers at once. The 20 client "
        "threads run in the benchmark's own process on the same 2 cores as the server.",
        f"Under load: each customer waits {THINK_S[0]:g}-{THINK_S[1]:g} s (seeded) before each "
        "message, reading and typing. Closed loop: the same 20 customers send "
        f"{SATURATION_TURNS} messages each with no pause, so the server is saturated and "
        "reply time is mostly time in the queue (no target applies; it shows the ceiling).",
        *[f"error: {e}" for e in errors[:5]],
    ]


def _measure(result: BenchResult, server: subprocess.Popen, url: str, messages: list[str]) -> BenchResult:
    """Everything measured once the server is running: start-up, page load, load, saturation, memory."""
    startup_s = _wait_until_up(url)
    if startup_s is None:
        result.skipped = "the server did not start within 180 s"
        return result
    from gradio_client import Client

    Client(url, verbose=False).predict("hello", [], "auto", "", api_name="/chat")  # warm-up
    idle_mb = _rss_mb(server.pid)
    load_ms = _page_load_ms(url)

    latencies: list[float] = []
    saturated: list[float] = []
    extra: list[float] = []  # the conversations that only bring the total to 100 (not reported)
    customers = _Customers(url, messages)
    sampler = _PeakRss(server.pid, idle_mb)
    sampler.start()
    load_s = customers.crowd(CUSTOMERS, CUSTOMERS, TURNS, latencies)
    saturated_s = customers.crowd(CUSTOMERS, CUSTOMERS, SATURATION_TURNS, saturated, think=False)  # closed loop
    # more conversations, 2 turns each, for the RSS figure
    customers.crowd(4, EXTRA_CONVERSATIONS, 2, extra, think=False, first=CUSTOMERS)
    sampler.stop()
    after_100_mb = _rss_mb(server.pid)
    errors = customers.errors
    result.metrics = _metrics(startup_s, load_ms, latencies, errors, load_s, saturated, saturated_s, idle_mb,
                              max(sampler.peak, _hwm_mb(server.pid)), after_100_mb)
    result.notes += _notes(errors)
    result.data = {"latencies_ms": latencies, "closed_loop_ms": saturated, "errors": errors,
                   "page_load_ms": load_ms}
    return result


def run(ctx: BenchContext) -> BenchResult:
    settings = ctx.built()
    messages = [t for row in read_jsonl(REPO / "evals" / "dev.jsonl") for t in (row.get("turns") or [row["message"]])]
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    # All simulated customers come from 127.0.0.1: the per-address limit would count them as one visitor.
    env = {**os.environ, "BNPL_DATA_DIR": str(settings.data_dir), "PYTHONUNBUFFERED": "1",
           "BNPL_CLIENT_RATE_LIMIT": "0"}
    exe = Path(sys.executable).parent / "bnpl-assistant"
    server = subprocess.Popen([str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    result = BenchResult("page_load", "The page under load (20 customers x 10 turns, offline)")
    try:
        return _measure(result, server, url, messages)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
