"""The agents' side of a live hand-off, as plain methods for the page's desk tab and the CLI.

An agent sees the queue (new tickets and new customer messages, with waiting time), opens a ticket to read the
whole conversation, the hand-off summary and the signed-in customer's account (read-only; every look is
audited), gets a suggested reply drafted from the knowledge base for the customer's last question, edits and
sends it, and claims, transfers, returns to the assistant or closes the case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bnpl_assistant.assistant import Assistant
from bnpl_assistant.conversation import Conversation, Turn
from bnpl_assistant.support.handoffs import HandoffStore, Ticket
from bnpl_assistant.support.live import LiveChat, Message

MAX_PANEL_ORDERS = 8


@dataclass(frozen=True)
class QueueItem:
    """One row of the live queue."""

    ticket: Ticket
    owner: str
    waiting_s: int  # since the ticket was opened
    last_customer_text: str
    unanswered: int  # customer messages since the agent last wrote


@dataclass(frozen=True)
class AccountPanel:
    """What an agent sees of the signed-in customer's account (read-only)."""

    customer: str
    orders: list[tuple[str, str, str, str]]  # (order, shop, amount, status)
    next_payments: list[tuple[str, str, str]]  # (order, due date, amount)


class AgentDesk:
    """Queue, transcript, account panel, suggested reply and the ticket actions."""

    def __init__(self, assistant: Assistant, handoffs: HandoffStore, live: LiveChat, accounts: Any = None) -> None:
        self.assistant = assistant
        self.handoffs = handoffs
        self.live = live
        self.accounts = accounts

    def queue(self) -> list[QueueItem]:
        """Open and claimed tickets in the order agents take them."""
        now = datetime.now(UTC)
        items = []
        for ticket in self.handoffs.list(open_only=True):
            messages = self.live.messages(ticket.conversation_id)
            customer = [m for m in messages if m.role == "customer"]
            last_agent = max((m.id for m in messages if m.role == "agent"), default=0)
            items.append(QueueItem(ticket, self.live.owner(ticket.conversation_id), _age_s(ticket.created_at, now),
                                   customer[-1].text if customer else "",
                                   sum(1 for m in customer if m.id > last_agent)))
        return items

    def transcript(self, ticket: str) -> list[Message]:
        """Every message of the ticket's conversation; for a ticket opened outside the page (no messages
        kept), its transcript."""
        current = self.handoffs.get(ticket)
        messages = self.live.messages(current.conversation_id)
        if messages:
            return messages
        return [Message(0, current.conversation_id, current.created_at, t["role"], None, t["text"])
                for t in current.transcript]

    def account(self, ticket: str, agent: str) -> AccountPanel | None:
        """The signed-in customer's orders and next payments (audited), or None for a signed-out chat."""
        current = self.handoffs.get(ticket)
        if self.accounts is None or not current.customer_id:
            return None
        self.live.viewed_account(agent, current.customer_id)
        customer = self.accounts.customer(current.customer_id)
        orders = self.accounts.list_orders(current.customer_id)[:MAX_PANEL_ORDERS]
        schedule = [p for p in self.accounts.payment_schedule(current.customer_id) if p.status in ("due", "failed")]
        return AccountPanel(f"{customer.name} ({customer.id})",
                            [(o.id, o.shop, f"{o.amount_cents / 100:.2f} {o.currency}", o.status) for o in orders],
                            [(p.order_id, p.due_date.isoformat(), p.amount) for p in schedule[:5]])

    def suggestion(self, ticket: str) -> str:
        """A reply drafted from the knowledge base for the customer's last question ("" when nothing fits)."""
        current = self.handoffs.get(ticket)
        conversation = self.live.load(current.conversation_id) or Conversation(
            current.conversation_id, current.customer_id,
            [Turn(t["role"], t["text"], t.get("language")) for t in current.transcript])
        questions = [t.text for t in conversation.turns if t.role == "customer" and t.text]
        return self.assistant.suggest(conversation, questions[-1]) if questions else ""

    def claim(self, ticket: str, agent: str) -> Ticket:
        return self.live.claim(ticket, agent)

    def send(self, ticket: str, agent: str, text: str) -> Message:
        return self.live.reply(ticket, agent, text)

    def transfer(self, ticket: str, team: str) -> Ticket:
        return self.live.transfer(ticket, team)

    def release(self, ticket: str) -> Ticket:
        return self.live.release(ticket)

    def close(self, ticket: str, reason: str) -> Ticket:
        return self.live.close(ticket, reason)


def _age_s(created_at: str, now: datetime) -> int:
    try:
        created = datetime.fromisoformat(created_at)
    except ValueError:
        return 0
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return max(0, int((now - created).total_seconds()))
