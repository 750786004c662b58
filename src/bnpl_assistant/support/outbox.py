"""The webhook outbox: hand-off events queued in the ``outbox`` table and POSTed to a help desk.

An event is queued in the same transaction as the ticket it describes (:meth:`Outbox.enqueue`), and
:meth:`Outbox.deliver` POSTs the queue as JSON: an outage of the help desk loses nothing, the items wait for
the next call.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bnpl_assistant.storage import Connection, Database, Row

if TYPE_CHECKING:  # imported where a ticket is posted: a turn that posts nothing never pays its import
    import httpx

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class DeliveryReport:
    """What one :meth:`Outbox.deliver` call did; ``pending`` is what is left for the next call."""

    delivered: int
    pending: int
    rejected: int
    attempts: int


class Outbox:
    """Events for one webhook URL, stored until the help desk has accepted them."""

    def __init__(self, database: Database, url: str, *, timeout_s: float = 5.0, attempts_per_call: int = 3,
                 backoff_s: float = 0.5, clock: Callable[[], datetime] | None = None,
                 sleep: Callable[[float], None] = time.sleep, transport: httpx.BaseTransport | None = None) -> None:
        """Args:
            database: the opened database.
            url: where :meth:`deliver` POSTs the events.
            timeout_s, attempts_per_call, backoff_s: per POST timeout, tries per item and call, first
                back-off (doubling).
            clock, sleep, transport: injectable for tests.
        """
        self.database = database
        self.url = url
        self.timeout_s = timeout_s
        self.attempts_per_call = max(1, attempts_per_call)
        self.backoff_s = backoff_s
        self._clock = clock or (lambda: datetime.now(UTC))
        self._sleep = sleep
        self._transport = transport

    def enqueue(self, conn: Connection, ticket: str, payload: dict[str, Any], created_at: str) -> None:
        """Queue one event, inside the caller's write transaction on ``conn``."""
        conn.execute("INSERT INTO outbox (ticket, url, payload, status, created_at) VALUES (?, ?, ?, 'pending', ?)",
                     (ticket, self.url, json.dumps(payload, ensure_ascii=False), created_at))

    def pending(self) -> int:
        """Items waiting for delivery (any URL)."""
        with self.database.session() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").fetchone()[0])

    def deliver(self, limit: int = 100) -> DeliveryReport:
        """POST pending items (oldest first) to their webhook, retrying timeouts, 429 and 5xx with back-off.

        Delivered items are marked; after an item exhausts its tries the call stops (the help desk is down)
        and everything left stays pending for the next call. Other 4xx answers mark the item ``rejected``
        (kept, not retried).
        """
        with self.database.session() as conn:
            items = conn.execute("SELECT * FROM outbox WHERE status = 'pending' ORDER BY id LIMIT ?",
                                 (limit,)).fetchall()
        delivered = rejected = attempts = 0
        if items:
            import httpx

            with httpx.Client(timeout=self.timeout_s, transport=self._transport) as client:
                for item in items:
                    status, tries, error = self._post(client, item)
                    attempts += tries
                    self._mark(item, status, tries, error)
                    if status == "delivered":
                        delivered += 1
                    elif status == "rejected":
                        rejected += 1
                    else:
                        log.warning("webhook unavailable (%s); %s stays in the outbox", error, item["ticket"])
                        break
        return DeliveryReport(delivered, self.pending(), rejected, attempts)

    def _mark(self, item: Row, status: str, tries: int, error: str | None) -> None:
        delivered_at = self._clock().isoformat(timespec="seconds") if status == "delivered" else None
        with self.database.write() as conn:
            conn.execute("UPDATE outbox SET status = ?, attempts = attempts + ?, last_error = ?, delivered_at = ? "
                         "WHERE id = ?", (status, tries, error, delivered_at, item["id"]))

    def _post(self, client: httpx.Client, item: Row) -> tuple[str, int, str | None]:
        import httpx

        error: str | None = None
        for attempt in range(self.attempts_per_call):
            if attempt:
                self._sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                response = client.post(item["url"], content=item["payload"].encode("utf-8"),
                                       headers={"Content-Type": "application/json",
                                                "Idempotency-Key": f"{item['ticket']}-{item['id']}"})
            except httpx.TransportError as exc:  # connection refused, timeout, reset
                error = f"{type(exc).__name__}: {exc}"
                continue
            if response.is_success:
                return "delivered", attempt + 1, None
            error = f"HTTP {response.status_code}"
            if response.status_code not in RETRYABLE_STATUS:
                return "rejected", attempt + 1, error
        return "pending", self.attempts_per_call, error
