"""The support desk: what the page (and any other front end) may do, as plain methods.

The per-visitor :class:`Session` holds only the conversation's id, the signed-in demo customer and the page's
own counters; the conversation itself (history, pending account question, owner, language, customer) lives in
the database (``support.live``) and is read at the start of every operation, so any instance of a fleet can
continue any conversation. The desk delegates to the assistant, the live chat (who answers) and the
conversation log. The agents' side is ``support.agents``. The Gradio handlers only call these methods.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bnpl_assistant.answer import templates
from bnpl_assistant.assistant import Assistant
from bnpl_assistant.conversation import Conversation, Reply
from bnpl_assistant.errors import BnplError
from bnpl_assistant.languages import FALLBACK
from bnpl_assistant.support.live import ASSISTANT, CLOSED, LiveChat, Message, Waiting

RATE_LIMIT_MESSAGES = 20  # per session and window
RATE_LIMIT_WINDOW_S = 60.0
CLIENT_RATE_LIMIT = 60  # per client address and window, across its sessions (Settings.client_rate_limit)
MAX_CLIENTS_TRACKED = 10_000
MAX_COMMENT_CHARS = 1000


@dataclass
class Session:
    """One visitor's chat, as the page keeps it (per browser tab, never shared between visitors): the
    conversation's id and customer, the last chat message the page has shown (``seen``), the log id of the last
    reply (for thumbs up/down) and the per-session rate limit. ``conversation`` is the conversation as the
    desk last read or wrote it: with a database it is read again from there at every operation."""

    conversation: Conversation = field(default_factory=Conversation)
    sent: deque[float] = field(default_factory=deque)
    seen: int = 0
    last_turn_id: int | None = None

    @property
    def conversation_id(self) -> str:
        return self.conversation.id

    def allow(self, now: float | None = None) -> bool:
        """Admit one message unless the session is over its rate limit."""
        return _admit(self.sent, RATE_LIMIT_MESSAGES, RATE_LIMIT_WINDOW_S, now)


@dataclass(frozen=True)
class LiveTurn:
    """A customer message that went to the person who owns the conversation: no assistant reply."""

    message: Message
    owner: str  # queued | agent:<name>


def _admit(sent: deque[float], limit: int, window_s: float, now: float | None = None) -> bool:
    """Sliding-window rate limit: record a message at ``now`` unless ``limit`` were sent in the last
    ``window_s`` seconds."""
    now = time.monotonic() if now is None else now
    while sent and now - sent[0] > window_s:
        sent.popleft()
    if len(sent) >= limit:
        return False
    sent.append(now)
    return True


class ClientLimiter:
    """A sliding-window limit per client address, so that opening new sessions (a new tab, a new
    ``gradio_client``) does not get round the per-session limit. Behind a reverse proxy every visitor has
    the proxy's address: limit there instead and set ``BNPL_CLIENT_RATE_LIMIT=0``."""

    def __init__(self, limit: int = CLIENT_RATE_LIMIT, window_s: float = RATE_LIMIT_WINDOW_S,
                 max_clients: int = MAX_CLIENTS_TRACKED) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_clients = max_clients
        self._sent: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, client: str | None, now: float | None = None) -> bool:
        """Admit one request from ``client`` unless it is over its limit (always, without an address)."""
        if self.limit <= 0 or not client:
            return True
        now = time.monotonic() if now is None else now
        with self._lock:
            if not _admit(self._sent.setdefault(client, deque()), self.limit, self.window_s, now):
                return False
            if len(self._sent) > self.max_clients:  # forget clients that have been quiet for a window
                for key in [k for k, q in self._sent.items() if not q or now - q[-1] > self.window_s]:
                    del self._sent[key]
            return True


class SupportDesk:
    """The desk's operations over the assistant and its stores (each store optional)."""

    def __init__(self, assistant: Assistant, turn_log: Any = None, accounts: Any = None,
                 eval_dir: Path | None = None, deflection_dir: Path | None = None,
                 client_limit: int = CLIENT_RATE_LIMIT, live: LiveChat | None = None) -> None:
        self.assistant = assistant
        self.live = live
        self.turn_log = turn_log
        self.accounts = accounts
        self.eval_dir = eval_dir
        self.deflection_dir = deflection_dir
        self.clients = ClientLimiter(client_limit)

    # -- customer side -------------------------------------------------------------------------------

    def new_session(self, customer_id: str | None = None) -> Session:
        """A fresh session, signed in as ``customer_id`` when given."""
        return Session(Conversation(customer_id=customer_id or None))

    def sign_in(self, session: Session, customer_id: str | None) -> Session:
        """Switching the signed-in customer starts a fresh conversation (nothing carries over)."""
        if (customer_id or None) == session.conversation.customer_id:
            return session
        return self.new_session(customer_id)

    def send(self, session: Session, message: str, language: str | None = None,
             client: str | None = None) -> Reply | LiveTurn | None:
        """The assistant's reply (a :class:`LiveTurn` when a person owns the conversation), or None when the
        session or its client address is over its rate limit."""
        events = self.send_stream(session, message, language, client)
        if events is None:
            return None
        *_, reply = events
        assert isinstance(reply, Reply | LiveTurn)
        return reply

    def send_stream(self, session: Session, message: str, language: str | None = None,
                    client: str | None = None) -> Iterator[str | Reply | LiveTurn] | None:
        """The reply as events (text deltas on the OpenAI path, then the :class:`Reply`), or None when the
        session or its client address (``client``, e.g. the visitor's IP) is over its rate limit."""
        if not self.clients.allow(client) or not session.allow():
            return None
        return self._stream(session, message, None if language in (None, "", "auto") else language)

    def _current(self, session: Session) -> tuple[Conversation, str]:
        """The session's conversation as the database has it now (another instance may have moved it on) and
        who owns it; the session's own copy when nothing is stored yet or there is no database."""
        owner = ASSISTANT
        if self.live is not None:
            stored, owner = self.live.load_with_owner(session.conversation.id)
            if stored is not None and stored.customer_id == session.conversation.customer_id:
                session.conversation = stored
        return session.conversation, owner

    def _stream(self, session: Session, message: str, language: str | None) -> Iterator[str | Reply | LiveTurn]:
        conversation, owner = self._current(session)
        if self.live is not None:
            if owner == CLOSED:
                self.live.reopen_for_customer(conversation.id)
            elif owner != ASSISTANT:  # a person has it: the assistant stays silent
                kept = self.live.customer_writes(conversation, message)
                session.seen = max(session.seen, kept.id)
                yield LiveTurn(kept, owner)
                return
        read_turns = len(conversation.turns)
        for event in self.assistant.respond_stream(conversation, message, language=language):
            if isinstance(event, Reply):
                session.last_turn_id = event.turn_id
                self._keep(session, message, event, read_turns)
            yield event

    def _keep(self, session: Session, message: str, reply: Reply, read_turns: int) -> None:
        """Record the exchange for the live desk and resuming (``read_turns``: the conversation's turns when the
        turn read it; see ``LiveChat.exchange``); a reply that handed over queues the chat."""
        if self.live is None:
            return
        handed_over = reply.ticket_id if reply.outcome == "escalate" else None  # its notice comes through poll()
        shown = self.live.exchange(session.conversation, message, reply.text, handed_over, read_turns)
        session.seen = max(session.seen, shown.id)

    def talk_to_person(self, session: Session, language: str | None = None,
                       client: str | None = None) -> Reply | None:
        """A hand-off ticket for the conversation, or None when the client is over its rate limit (each
        press opens or updates a ticket)."""
        if not self.clients.allow(client):
            return None
        conversation = self._current(session)[0]
        read_turns = len(conversation.turns)
        reply = self.assistant.hand_off(conversation, "customer-pressed-button",
                                        None if language in (None, "", "auto") else language)
        session.last_turn_id = reply.turn_id
        self._keep(session, "", reply, read_turns)
        return reply

    def poll(self, session: Session) -> list[Message]:
        """Messages from the desk side (agent, system) that the page has not shown yet."""
        if self.live is None:
            return []
        new = self.live.messages(session.conversation.id, after=session.seen)
        if new:
            session.seen = new[-1].id
        return [m for m in new if m.role in ("agent", "system")]

    def status(self, session: Session) -> tuple[str, Waiting | None]:
        """Who has the conversation (``assistant``, ``queued``, ``agent:<name>``, ``closed``) and, while it is
        queued, where the customer stands."""
        if self.live is None:
            return ASSISTANT, None
        return self.live.status(session.conversation.id)

    def resume(self, conversation_id: str, customer_id: str | None) -> tuple[Session, list[Message]] | None:
        """The saved conversation ``conversation_id`` with its messages, when it belongs to ``customer_id``
        (the page was closed and opened again in the same browser); None otherwise."""
        if self.live is None or not conversation_id:
            return None
        conversation = self.live.load(conversation_id)
        if conversation is None or conversation.customer_id != (customer_id or None):
            return None
        messages = self.live.messages(conversation_id)
        return Session(conversation, seen=messages[-1].id if messages else 0), messages

    def rate_conversation(self, session: Session, score: int, comment: str | None = None) -> str | None:
        """A 1-5 rating of the conversation; who resolved it, or None without the live store."""
        if self.live is None:
            return None
        return self.live.rate(session.conversation.id, score, comment)

    def rate_limited_text(self, session: Session) -> str:
        """The "slow down" message in the conversation's language."""
        return templates.line("rate_limited", session.conversation.language or FALLBACK)

    def feedback(self, turn_id: int | None, value: int, comment: str | None = None) -> bool:
        """Record a thumbs up (1) or down (-1) on a logged turn; False when there is no log or turn."""
        if self.turn_log is None or turn_id is None:
            return False
        self.turn_log.feedback(turn_id, value, (comment or "")[:MAX_COMMENT_CHARS] or None)
        return True

    def demo_customers(self) -> list[tuple[str, str]]:
        """(label, customer id) pairs for the sign-in picker."""
        if self.accounts is None:
            return []
        return [(f"{c.name} ({c.id})", c.id) for c in self.accounts.list_customers()]

    # -- dashboard -----------------------------------------------------------------------------------

    def live_stats(self) -> Any:
        """The conversation log's figures for the dashboard, or None without a log."""
        return self.turn_log.stats() if self.turn_log is not None else None

    def outcome_report(self, since: str | None, until: str | None = None) -> dict[str, Any] | None:
        """The outcome analytics (``analytics/report.py``) of the conversations that started in the window,
        or None without a log or without any conversation in it."""
        if self.turn_log is None:
            return None
        from bnpl_assistant.analytics.report import build

        try:
            return build(self.turn_log.database.target, since, until, datetime.now(UTC))
        except BnplError:
            return None

    def content_gaps(self, since: str | None) -> tuple[list[Any], int] | None:
        """The content gaps (``analytics/gaps.py``) of the log from ``since`` on: (clusters, unresolved
        messages); None without a log."""
        if self.turn_log is None:
            return None
        from bnpl_assistant.analytics.gaps import gaps_in_log, passages_of

        understander = self.assistant.understander
        passages = passages_of(understander.search.table().chunks)
        try:
            return gaps_in_log(self.turn_log.database.target, understander.embedder.embed_queries, passages, since,
                               datetime.now(UTC).isoformat(timespec="milliseconds"),
                               getattr(understander.classifier, "training_vectors", None))
        except BnplError:  # no log (yet)
            return [], 0

    def latest_eval(self) -> dict[str, Any]:
        """metrics.json of every dataset in the eval output folder (empty when none was run)."""
        out: dict[str, Any] = {}
        if self.eval_dir and self.eval_dir.exists():
            for path in sorted(self.eval_dir.glob("*/metrics.json")):
                try:
                    out[path.parent.name] = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue
        return out

    def latest_deflection(self) -> tuple[dict[str, Any] | None, list[Path]]:
        """The newest deflection JSON and its plots, if a report was written."""
        if not self.deflection_dir or not self.deflection_dir.exists():
            return None, []
        files = sorted(self.deflection_dir.glob("**/*.json"), key=lambda p: p.stat().st_mtime)
        if not files:
            return None, []
        try:
            data = json.loads(files[-1].read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None, []
        return data, sorted(files[-1].parent.glob("*.png"))
