"""Live hand-off: a person takes the conversation over in the same chat, and hands it back.

Every conversation has an owner (``conversations.owner``):

- ``assistant``: the assistant answers;
- ``queued``: a hand-off ticket waits for an agent; the customer's messages go to the desk, the assistant stays
  silent (it says once that a person will reply, with the queue position, or outside support hours when and
  how a person follows up);
- ``agent:<name>``: an agent has written; the customer's messages go to them;
- ``closed``: the agent closed the case; the customer may rate it, and their next message goes to the
  assistant again.

Every chat message (customer, assistant, agent, system) is kept in ``messages`` in order, so a page that was
closed and opened again, another instance, or the CLI sees the same conversation. Ticket state stays in
:class:`~bnpl_assistant.support.handoffs.HandoffStore`; this module moves the owner with it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from bnpl_assistant.act.state import PendingAction
from bnpl_assistant.answer import templates
from bnpl_assistant.conversation import Conversation, Turn
from bnpl_assistant.storage import Connection, Database
from bnpl_assistant.support.handoffs import HandoffError, HandoffStore, Ticket
from bnpl_assistant.support.hours import SupportHours

ASSISTANT, QUEUED, CLOSED = "assistant", "queued", "closed"
ROLES = ("customer", "assistant", "agent", "system")
DEFAULT_HANDLE_MINUTES = 6.0
MAX_AGENT_TEXT = 4000


@dataclass(frozen=True)
class Message:
    """One chat message as both sides see it."""

    id: int
    conversation_id: str
    at: str
    role: str  # customer | assistant | agent | system
    author: str | None
    text: str


@dataclass(frozen=True)
class Waiting:
    """Where a queued customer stands."""

    position: int  # 1: next
    minutes: int  # expected wait
    open_now: bool  # people are answering now (support hours)
    opening: str  # when people answer next, local time, e.g. "Mon 08:00" ("" when open now)


def agent_owner(agent: str) -> str:
    return f"agent:{agent}"


def with_person(owner: str) -> bool:
    """Whether a person has the conversation or it waits for one (its page then polls for their messages)."""
    return owner == QUEUED or owner.startswith(agent_owner(""))


class LiveChat:
    """Owners, messages and ratings of conversations, on the database the tickets live in."""

    def __init__(self, database: Database, handoffs: HandoffStore, hours: SupportHours | None = None,
                 handle_minutes: float = DEFAULT_HANDLE_MINUTES,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.database = database
        self.handoffs = handoffs
        self.hours = hours or SupportHours.parse()
        self.handle_minutes = handle_minutes
        self._clock = clock or (lambda: datetime.now(UTC))

    # -- conversations -------------------------------------------------------------------------------

    def owner(self, conversation_id: str) -> str:
        with self.database.session() as conn:
            row = conn.execute("SELECT owner FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
        return str(row["owner"]) if row is not None else ASSISTANT

    def status(self, conversation_id: str) -> tuple[str, Waiting | None]:
        """Who has the conversation and, while it is queued, where the customer stands (one read: the page
        asks every second)."""
        with self.database.session() as conn:
            row = conn.execute("SELECT owner, ticket FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
            if row is None:
                return ASSISTANT, None
            waiting = self._waiting(conn, row["ticket"]) if row["owner"] == QUEUED and row["ticket"] else None
        return str(row["owner"]), waiting

    def save(self, conversation: Conversation) -> None:
        """Persist the conversation's state (turns, pending action, customer); its owner is untouched."""
        with self.database.write() as conn:
            self._save(conn, conversation)

    def load(self, conversation_id: str) -> Conversation | None:
        """The conversation as it was last saved, or None when it is unknown."""
        with self.database.session() as conn:
            return self._load(conn, conversation_id)

    def load_with_owner(self, conversation_id: str) -> tuple[Conversation | None, str]:
        """:meth:`load` and :meth:`owner` in one read (the start of every customer turn)."""
        with self.database.session() as conn:
            row = conn.execute("SELECT state, owner FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
        if row is None:
            return None, ASSISTANT
        return (_conversation(json.loads(row["state"])) if row["state"] != "{}" else None), str(row["owner"])

    @staticmethod
    def _load(conn: Connection, conversation_id: str) -> Conversation | None:
        row = conn.execute("SELECT state FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
        return _conversation(json.loads(row["state"])) if row is not None and row["state"] != "{}" else None

    # -- messages ------------------------------------------------------------------------------------

    def record(self, conversation_id: str, role: str, text: str, author: str | None = None) -> Message:
        with self.database.write() as conn:
            return self._record(conn, conversation_id, role, text, author)

    def messages(self, conversation_id: str, after: int = 0) -> list[Message]:
        """The conversation's messages with an id above ``after``, in order."""
        with self.database.session() as conn:
            rows = conn.execute("SELECT * FROM messages WHERE conversation_id = ? AND id > ? ORDER BY id",
                                (conversation_id, after)).fetchall()
        return [Message(r["id"], r["conversation_id"], r["at"], r["role"], r["author"], r["text"]) for r in rows]

    # -- the customer's side -------------------------------------------------------------------------

    def exchange(self, conversation: Conversation, customer_text: str, reply_text: str,
                 ticket: str | None = None, read_turns: int | None = None) -> Message:
        """One assistant turn, in one transaction: the conversation's state, the customer's message (when there
        is one) and the reply; with ``ticket`` (the reply handed over) the conversation is queued too. Returns
        the reply's message (a queue notice comes after it).

        ``read_turns``: the conversation's turns when the turn read it. Turns stored meanwhile (an agent's message
        on another instance) are kept before this turn's own, not overwritten with the state read at its start."""
        with self.database.write() as conn:
            if read_turns is not None:
                stored = self._load(conn, conversation.id)
                if stored is not None and len(stored.turns) > read_turns:
                    conversation.turns[:] = [*stored.turns, *conversation.turns[read_turns:]]
            self._save(conn, conversation)
            if customer_text:
                self._record(conn, conversation.id, "customer", customer_text)
            shown = self._record(conn, conversation.id, "assistant", reply_text)
            if ticket:
                self._queue(conn, conversation, ticket)
            return shown

    def queue(self, conversation: Conversation, ticket: str) -> Message:
        """A hand-off happened: the conversation waits for an agent. Returns the notice shown to the customer."""
        with self.database.write() as conn:
            self._save(conn, conversation)
            return self._queue(conn, conversation, ticket)

    def customer_writes(self, conversation: Conversation, text: str) -> Message:
        """A customer message while a person owns the conversation: kept for the agent (the assistant said
        once, when it handed over, that a person will reply)."""
        with self.database.write() as conn:  # read, add, write under the write lock: nothing another instance
            stored = self._load(conn, conversation.id)  # added meanwhile (an agent's turn) is lost
            if stored is not None:
                conversation.turns[:] = stored.turns
            conversation.turns.append(Turn("customer", text, _language(conversation)))
            self._save(conn, conversation)
            return self._record(conn, conversation.id, "customer", text)

    def rate(self, conversation_id: str, score: int, comment: str | None = None) -> str:
        """Store a 1-5 rating of the conversation; returns who resolved it (``assistant`` or ``agent``).

        Raises:
            ValueError: a score outside 1-5.
        """
        if not 1 <= int(score) <= 5:
            raise ValueError("a rating is a whole number from 1 to 5")
        with self.database.write() as conn:
            agent_wrote = conn.execute("SELECT 1 FROM messages WHERE conversation_id = ? AND role = 'agent' "
                                       "LIMIT 1", (conversation_id,)).fetchone() is not None
            row = conn.execute("SELECT ticket FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
            ticket = row["ticket"] if row is not None else None
            topic = self._topic(conn, ticket)
            resolved_by = "agent" if agent_wrote else "assistant"
            conn.execute("INSERT INTO ratings (conversation_id, ticket, at, score, comment, resolved_by, topic) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)", (conversation_id, ticket, self._now(), int(score),
                                                          (comment or "").strip()[:1000] or None, resolved_by,
                                                          topic))
        return resolved_by

    def reopen_for_customer(self, conversation_id: str) -> None:
        """After the agent closed, the customer's next message goes to the assistant again."""
        with self.database.write() as conn:
            conn.execute("UPDATE conversations SET owner = ? WHERE id = ? AND owner = ?",
                         (ASSISTANT, conversation_id, CLOSED))

    # -- the agent's side ----------------------------------------------------------------------------

    def claim(self, ticket: str, agent: str) -> Ticket:
        """Take the ticket (exactly one of two agents claiming at once wins; the other gets HandoffError)."""
        claimed = self.handoffs.claim(ticket, agent)
        with self.database.write() as conn:
            self._set_owner(conn, claimed.conversation_id, agent_owner(agent))
        return claimed

    def reply(self, ticket: str, agent: str, text: str) -> Message:
        """An agent's message to the customer; claims the ticket first when nobody has.

        Raises:
            HandoffError: empty text, a ticket claimed by another agent, or a closed one.
        """
        text = (text or "").strip()[:MAX_AGENT_TEXT]
        if not text:
            raise HandoffError("write a message to send")
        current = self.handoffs.get(ticket)
        if current.status == "closed":
            raise HandoffError(f"{current.ticket} is closed")
        if current.agent != agent:
            current = self.claim(current.ticket, agent)
        return self._hand_to(current.conversation_id, agent_owner(agent), "agent", text, agent)

    def transfer(self, ticket: str, team: str) -> Ticket:
        moved = self.handoffs.transfer(ticket, team)
        notice = templates.line("live_transferred", moved.language,
                                team=templates.team_name(moved.team, moved.language))
        self._hand_to(moved.conversation_id, QUEUED, "system", notice)
        return moved

    def release(self, ticket: str) -> Ticket:
        """Hand the conversation back to the assistant (the ticket closes as "returned to the assistant")."""
        closed = self.handoffs.close(ticket, "returned to the assistant")
        self._hand_to(closed.conversation_id, ASSISTANT, "system", templates.line("live_returned", closed.language))
        return closed

    def close(self, ticket: str, reason: str) -> Ticket:
        """Close the case; the customer is asked to rate it."""
        if not (reason or "").strip():
            raise HandoffError("give a reason to close the ticket")
        closed = self.handoffs.close(ticket, reason)
        self._hand_to(closed.conversation_id, CLOSED, "system", templates.line("live_closed", closed.language))
        return closed

    def viewed_account(self, agent: str, customer_id: str) -> None:
        """Audit an agent's (read-only) look at a customer's account."""
        with self.database.write() as conn:
            conn.execute("INSERT INTO desk_access (at, agent, action, entity) VALUES (?, ?, 'view-account', ?)",
                         (self._now(), agent or "agent", customer_id))

    # -- internals -----------------------------------------------------------------------------------

    def _hand_to(self, conversation_id: str, owner: str, role: str, text: str, author: str | None = None) -> Message:
        """Give the conversation to ``owner`` and add the message that goes with it, in one transaction; an
        agent's message also joins the conversation's turns, so the assistant reads it when the conversation
        comes back to it (on whichever instance)."""
        with self.database.write() as conn:
            self._set_owner(conn, conversation_id, owner)
            if role == "agent":
                stored = self._load(conn, conversation_id)
                if stored is not None:
                    stored.turns.append(Turn("agent", text, stored.language))
                    self._save(conn, stored)
            return self._record(conn, conversation_id, role, text, author)

    @staticmethod
    def _set_owner(conn: Connection, conversation_id: str, owner: str) -> None:
        conn.execute("UPDATE conversations SET owner = ? WHERE id = ?", (owner, conversation_id))

    def _queue(self, conn: Connection, conversation: Conversation, ticket: str) -> Message:
        conn.execute("UPDATE conversations SET owner = ?, ticket = ? WHERE id = ?", (QUEUED, ticket, conversation.id))
        return self._record(conn, conversation.id, "system", self._queue_notice(conn, ticket, _language(conversation)))

    def _save(self, conn: Connection, conversation: Conversation) -> None:
        now = self._now()
        conn.execute("INSERT INTO conversations (id, customer_id, state, created_at, updated_at) "
                     "VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET customer_id = excluded.customer_id, "
                     "state = excluded.state, updated_at = excluded.updated_at",
                     (conversation.id, conversation.customer_id, json.dumps(_state(conversation), ensure_ascii=False),
                      now, now))

    def _record(self, conn: Connection, conversation_id: str, role: str, text: str,
                author: str | None = None) -> Message:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        at = self._now()
        row = conn.execute("INSERT INTO messages (conversation_id, at, role, author, text) VALUES (?, ?, ?, ?, ?) "
                           "RETURNING id", (conversation_id, at, role, author, text)).fetchone()
        return Message(int(row[0]), conversation_id, at, role, author, text)

    def _queue_notice(self, conn: Connection, ticket: str, language: str) -> str:
        waiting = self._waiting(conn, ticket)
        if not waiting.open_now:
            return templates.line("live_offline", language, ticket=ticket, opening=waiting.opening)
        return templates.line("live_queued", language, position=waiting.position, minutes=waiting.minutes)

    def _waiting(self, conn: Connection, ticket: str) -> Waiting:
        """Queue position (among unclaimed tickets, in the order agents take them) and expected wait."""
        rows = conn.execute("SELECT ticket FROM handoffs WHERE status = 'open' ORDER BY priority, id").fetchall()
        queue = [r["ticket"] for r in rows]
        position = queue.index(ticket) + 1 if ticket in queue else 1
        now = self._clock()
        opening = self.hours.next_opening(now)
        open_now = self.hours.is_open(now)
        label = "" if open_now or opening is None else opening.strftime("%a %H:%M")
        return Waiting(position, max(1, round(position * self.handle_minutes)), open_now, label)

    @staticmethod
    def _topic(conn: Connection, ticket: str | None) -> str | None:
        if not ticket:
            return None
        row = conn.execute("SELECT topic FROM handoffs WHERE ticket = ?", (ticket,)).fetchone()
        return row["topic"] if row is not None else None

    def _now(self) -> str:
        return self._clock().isoformat(timespec="milliseconds")


def _language(conversation: Conversation) -> str:
    return conversation.language or "en"


def _state(conversation: Conversation) -> dict[str, Any]:
    pending = conversation.pending_action
    return {"id": conversation.id, "customer_id": conversation.customer_id,
            "turns": [asdict(t) for t in conversation.turns],
            "pending_action": {**asdict(pending), "candidates": list(pending.candidates)} if pending else None}


def _conversation(state: dict[str, Any]) -> Conversation:
    pending = state.get("pending_action")
    return Conversation(
        id=str(state["id"]), customer_id=state.get("customer_id"),
        turns=[Turn(**t) for t in state.get("turns") or []],
        pending_action=PendingAction(**{**pending, "candidates": tuple(pending.get("candidates") or ())})
        if pending else None)
