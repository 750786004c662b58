"""The web server of ``bnpl-assistant serve``: the Gradio page mounted on a FastAPI app with ``/healthz``, and
the outbox delivered in the background.

- ``/healthz``: the database (a query), the vector store (its pointer; a Chroma server's heartbeat) and the model
  server (its ``/models`` list, when one is configured), each ``ok`` or the error; HTTP 200 when all are ok,
  503 otherwise, so a reverse proxy or an orchestrator takes a broken instance out of rotation.
- :class:`OutboxWorker`: every ``BNPL_OUTBOX_INTERVAL_S`` seconds the hand-off webhooks waiting in the outbox
  are posted; every instance of a fleet runs one, and the outbox's claims post each item once.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import gradio as gr
    from fastapi import FastAPI

    from bnpl_assistant.settings import Settings
    from bnpl_assistant.wiring import Components

log = logging.getLogger(__name__)

MODEL_CHECK_TIMEOUT_S = 3.0


def check_database(parts: Components) -> str:
    if parts.database is None:
        return "ok (none configured)"
    with parts.database.session() as conn:
        conn.execute("SELECT 1").fetchone()
    return "ok"


def check_vector_store(parts: Components) -> str:
    search = parts.assistant.understander.search
    store = getattr(search, "store", None)
    if store is None:
        return "ok (no store)"
    pointer = store.check(parts.assistant.understander.embedder.name)
    if not store.embedded and not store.heartbeat():
        return f"unreachable: {store.location}"
    return f"ok ({pointer.get('active', '?')})"


def check_model_server(settings: Settings) -> str:
    if settings.llm == "offline":
        return "ok (offline: no model server)"
    import httpx

    base = (settings.openai_base_url or "https://api.openai.com/v1").rstrip("/")
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
    response = httpx.get(f"{base}/models", headers={"Authorization": f"Bearer {key}"} if key else {},
                         timeout=MODEL_CHECK_TIMEOUT_S)
    return "ok" if response.is_success else f"HTTP {response.status_code}"


def health(parts: Components) -> tuple[bool, dict[str, str]]:
    """(all ok, a line per part): what ``/healthz`` answers."""
    checks: dict[str, Any] = {"database": lambda: check_database(parts),
                              "vector_store": lambda: check_vector_store(parts),
                              "model_server": lambda: check_model_server(parts.settings)}
    report: dict[str, str] = {}
    for name, check in checks.items():
        try:
            report[name] = check()
        except Exception as exc:  # noqa: BLE001 - a health check reports any failure, it does not raise
            report[name] = f"error: {type(exc).__name__}: {str(exc)[:200]}"
    return all(v.startswith("ok") for v in report.values()), report


class OutboxWorker:
    """Posts the hand-off outbox every ``interval_s`` seconds on a daemon thread until :meth:`stop`."""

    def __init__(self, parts: Components, interval_s: float) -> None:
        self.parts = parts
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)

    def start(self) -> OutboxWorker:
        if self.parts.handoffs is not None and self.parts.handoffs.webhook_url and self.interval_s > 0:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        handoffs = self.parts.handoffs
        assert handoffs is not None
        while not self._stop.wait(self.interval_s):
            try:
                report = handoffs.deliver_outbox()
                if report.delivered or report.rejected:
                    log.info("outbox: %d delivered, %d rejected, %d pending", report.delivered, report.rejected,
                             report.pending)
            except Exception:  # the worker outlives a failed round (database or help desk down)
                log.exception("outbox delivery failed; trying again in %.0f s", self.interval_s)


def create_server(blocks: gr.Blocks, parts: Components) -> FastAPI:
    """The FastAPI app: ``/healthz`` and the page at ``/``."""
    import gradio as gr
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    server = FastAPI(title="bnpl-assistant", docs_url=None, redoc_url=None, openapi_url=None)

    @server.get("/healthz")
    def healthz() -> JSONResponse:
        started = time.perf_counter()
        ok, report = health(parts)
        body = {"status": "ok" if ok else "degraded", **report,
                "checked_ms": round((time.perf_counter() - started) * 1000, 1)}
        return JSONResponse(body, status_code=200 if ok else 503)

    return gr.mount_gradio_app(server, blocks, path="/", show_error=False, footer_links=["api"])


def run(blocks: gr.Blocks, parts: Components, host: str, port: int) -> None:
    """Serve until stopped (uvicorn, one process; run several behind a reverse proxy for more)."""
    import uvicorn

    worker = OutboxWorker(parts, parts.settings.outbox_interval_s).start()
    try:
        uvicorn.run(create_server(blocks, parts), host=host, port=port, log_level="warning",
                    timeout_graceful_shutdown=5)
    finally:
        worker.stop()
