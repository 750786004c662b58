"""The webhook outbox: hand-off events queued in the ``outbox`` table and POSTed to a help desk.

An event is queued in the same transaction as the ticket it describes (:meth:`Outbox.enqueue`), and
:meth:`Outbox.deliver` POSTs the queue as JSON: an outage of the help desk loses nothing, the items wait for
the next call.

Several instances may deliver at once (a fleet on one database): each first *claims* the items it will post
(``claimed_by``, ``claimed_until``: a lease), with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL and under SQLite's
single writer, so no item is posted by two instances. A claim that outlives its lease (the instance died
mid-delivery) may be taken by another, and so may, at once, a claim held by a process of this host that no
longer exists (an instance killed and restarted does not wait out its own lease); the ``Idempotency-Key``
header then lets the help desk drop the rare second copy of an item that was posted but not yet marked.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bnpl_assistant.storage import Connection, Database, Row

if TYPE_CHECKING:  # imported where a ticket is posted: a turn that posts nothing never pays its import
    import httpx

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}
LEASE_S = 300.0  # how long a claim holds: far above one call's worst case (items x tries x timeout)
_CLAIM = ("SELECT id FROM outbox WHERE status = 'pending' AND (claimed_until IS NULL OR claimed_until < ?) "
          "ORDER BY id LIMIT ?")


def instance_name() -> str:
    """This process, as claims name it: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _gone(holder: str) -> bool:
    """Whether ``holder`` (an :func:`instance_name`) is a process of this host that no longer runs."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another host's process: only its lease tells
    try:
        os.kill(int(pid), 0)  # signal 0: delivers nothing, only checks that the process exists
    except ProcessLookupError:
        return True
    except OSError:  # exists, owned by another user
        pass
    return False


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
        self.instance = instance_name()

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
        items = self._claim(limit)
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
            self._unclaim([item["id"] for item in items])  # what the break left: free for the next call
        return DeliveryReport(delivered, self.pending(), rejected, attempts)

    def _claim(self, limit: int) -> list[Row]:
        """Take up to ``limit`` pending items nobody holds, oldest first, for this instance."""
        now = self._clock()
        lease_end = (now + timedelta(seconds=LEASE_S)).isoformat(timespec="milliseconds")
        with self.database.write(exclusive=False) as conn:
            self._release_dead_holders(conn, now)
            locking = " FOR UPDATE SKIP LOCKED" if conn.dialect == "postgresql" else ""
            ids = [int(r[0]) for r in conn.execute(_CLAIM + locking,
                                                    (now.isoformat(timespec="milliseconds"), limit)).fetchall()]
            if not ids:
                return []
            marks = ",".join("?" * len(ids))
            conn.execute(f"UPDATE outbox SET claimed_by = ?, claimed_until = ? WHERE id IN ({marks})",
                         (self.instance, lease_end, *ids))
            return conn.execute(f"SELECT * FROM outbox WHERE id IN ({marks}) ORDER BY id", tuple(ids)).fetchall()

    @staticmethod
    def _release_dead_holders(conn: Connection, now: datetime) -> None:
        holders = [str(r[0]) for r in conn.execute(
            "SELECT DISTINCT claimed_by FROM outbox WHERE status = 'pending' AND claimed_until >= ?",
            (now.isoformat(timespec="milliseconds"),)).fetchall() if r[0]]
        for holder in filter(_gone, holders):
            log.info("outbox items claimed by %s, which no longer runs, are free again", holder)
            conn.execute("UPDATE outbox SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ? "
                         "AND status = 'pending'", (holder,))

    def _unclaim(self, ids: list[int]) -> None:
        if ids:
            with self.database.write(exclusive=False) as conn:
                conn.execute(f"UPDATE outbox SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ? "
                             f"AND status = 'pending' AND id IN ({','.join('?' * len(ids))})", (self.instance, *ids))

    def _mark(self, item: Row, status: str, tries: int, error: str | None) -> None:
        delivered_at = self._clock().isoformat(timespec="seconds") if status == "delivered" else None
        with self.database.write(exclusive=False) as conn:
            conn.execute("UPDATE outbox SET status = ?, attempts = attempts + ?, last_error = ?, delivered_at = ?, "
                         "claimed_by = NULL, claimed_until = NULL WHERE id = ?",
                         (status, tries, error, delivered_at, item["id"]))

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
