"""Live hand-off latency: how long an agent's message takes to reach the customer's screen, and a customer's
message the agent's desk.

The page runs in-process on 127.0.0.1 on the benchmark's built index, with a fresh database; two headless
Chromium pages (Debian's chromium) play the customer and the agent. After a hand-off:
- agent -> customer: the agent sends ``SAMPLES`` messages (through the agent desk, as the page's Send button
  does); each is timed from the send until its text is in the customer's chat (the page polls every second);
- customer -> desk: the customer sends ``SAMPLES`` messages; each is timed from pressing Enter until its text
  is in the agent's open ticket (the desk refreshes every two seconds).
Bounded in count and time; all traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import shutil
import time

from benchmarks.common import BenchContext, BenchResult, Metric, free_port, now, percentiles

SAMPLES = 15
TIMEOUT_MS = 15_000
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def run(ctx: BenchContext, samples: int = SAMPLES) -> BenchResult:
    result = BenchResult("live_handoff", "Live hand-off: agent's message to the customer's screen, and back")
    chromium = shutil.which("chromium")
    if not chromium:
        result.skipped = "Debian's chromium is not installed"
        return result
    from playwright.sync_api import sync_playwright

    from bnpl_assistant.ui.app import build_app
    from bnpl_assistant.wiring import build

    settings = ctx.built().model_copy(update={"support_hours": "mon-sun 00:00-23:59", "client_rate_limit": 0})
    parts = build(settings, db_path=ctx.tmp("live") / "live.sqlite3")
    agents = parts.agent_desk()
    assert agents is not None
    app = build_app(parts.desk(), settings, agents)
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=ARGS)
            customer, agent = browser.new_page(), browser.new_page()
            for page in (customer, agent):
                page.goto(url)
                page.wait_for_selector("#message textarea", timeout=60_000)
            customer.fill("#message textarea", "My refund has not arrived")
            customer.press("#message textarea", "Enter")
            customer.wait_for_selector("#outcome :text('Answered'), #outcome :text('Handed')", timeout=TIMEOUT_MS)
            customer.click("#talk-to-person")
            customer.wait_for_selector("#outcome :text('Handed to a person')", timeout=TIMEOUT_MS)
            ticket = customer.locator("#outcome").inner_text().split("ticket")[-1].strip()
            agent.get_by_role("tab", name="Agent desk").click()
            agent.fill("#ticket-id textarea, #ticket-id input", ticket)
            to_customer, to_desk = [], []
            for i in range(samples):
                marker = f"agent-marker-{i}"
                started = now()
                agents.send(ticket, "bench", marker)
                customer.wait_for_function(f"document.querySelector('#chat').innerText.includes('{marker}')",
                                           timeout=TIMEOUT_MS, polling=20)
                to_customer.append((now() - started) * 1000)
                time.sleep(0.3)  # not in step with the page's poll
            for i in range(samples):
                marker = f"customer-marker-{i}"
                customer.fill("#message textarea", marker)
                started = now()
                customer.press("#message textarea", "Enter")
                agent.wait_for_function(f"document.querySelector('#ticket-view').innerText.includes('{marker}')",
                                        timeout=TIMEOUT_MS, polling=20)
                to_desk.append((now() - started) * 1000)
                time.sleep(0.3)
            browser.close()
    finally:
        app.close()
    a, c = percentiles(to_customer), percentiles(to_desk)
    result.metrics += [
        Metric("agent's send -> customer's screen, p50", round(a["p50"]), "ms", "< 2000", a["p50"] < 2000),
        Metric("agent's send -> customer's screen, p95", round(a["p95"]), "ms", "< 2000", a["p95"] < 2000),
        Metric("customer's message -> agent's open ticket, p50", round(c["p50"]), "ms", "< 2000", c["p50"] < 2000),
        Metric("customer's message -> agent's open ticket, p95", round(c["p95"]), "ms"),
    ]
    result.notes.append(f"{samples} messages each way; the customer's page polls every 1 s, the desk refreshes "
                        "every 2 s (ui/app.py POLL_S, ui/agent_tab.py REFRESH_S)")
    return result
