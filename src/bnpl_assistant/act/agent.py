"""The account agent: what the chat does with "when is my next payment?", "I sent the shoes back, stop
charging me" and the like, on the signed-in customer's own account. Offline and deterministic unless a chat
model is given to choose the action by function calling.

One customer turn is :meth:`AccountAgent.plan` (reads only: is this an account matter, and what to do) then
:meth:`AccountAgent.perform` (service reads and writes, the reply). More than one order fits: one clarifying
question. Every write: a yes/no confirmation first. Both wait in ``conversation.pending_action`` for exactly
one customer turn. Ids that are not the signed-in customer's get a refusal that reveals nothing, and the
customer id always comes from the session.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from bnpl_assistant.accounts.service import AccountsService, NotSignedIn, Order
from bnpl_assistant.act.intents import Intent, IntentData, IntentDetector, load_intents
from bnpl_assistant.act.perform import carry_out
from bnpl_assistant.act.plan import ActPlan
from bnpl_assistant.act.registry import ActionSpec, action
from bnpl_assistant.act.resolve import choose_order, filter_orders, merge_slots, owned_order
from bnpl_assistant.act.slots import Slots, extract_slots
from bnpl_assistant.act.state import PendingAction
from bnpl_assistant.act.toolcall import ToolChoice, ToolPlanner, choose_tool
from bnpl_assistant.classify import rules
from bnpl_assistant.conversation import Conversation, Reply
from bnpl_assistant.errors import DataError

MAX_OPTIONS = 5
MAX_DAYS_ANSWER_WORDS = 6  # "30 days, please" changes the days of a pending extension
_HALLON_ORDER = re.compile(r"\bord-\d{5}\b", re.IGNORECASE)


# An account read just answered -> the read a short follow-up to it gets (writes are never repeated this way).
FOLLOW_UP_READS = {"next_payment": "payment_schedule", "payment_schedule": "payment_schedule",
                   "list_orders": "list_orders", "refund_status": "refund_status"}
FOLLOW_UP_MAX_WORDS = 8


class AccountAgent:
    """Acts on the signed-in customer's account when a message asks for it."""

    def __init__(self, service: AccountsService, embed_query: Callable[[str], np.ndarray], *,
                 signed_out: str = "refuse", data: IntentData | None = None,
                 embed_examples: Callable[[list[str]], np.ndarray] | None = None,
                 planner: ToolPlanner | None = None) -> None:
        """Args:
            service: the accounts service (the only way to the account tables, and the policy).
            embed_query: the assistant's query embedder (e5 ``query:`` vectors), used for the examples.
            signed_out: ``"refuse"``: an account request without a signed-in customer gets the sign-in
                explanation; ``"defer"``: only messages that name an order or customer id get it, the rest
                go to the FAQ (which explains where to look in the app).
            data: the intents file (default: the package's).
            embed_examples: embeds the example texts in one go (e.g. the classifier's disk cache,
                ``EmbeddingCache(settings.cache_dir, embedder).embed``); default: ``embed_query`` each.
            planner: a chat model that chooses the action for a signed-in customer's new request by function
                calling (OpenAI path); when it fails, the offline intent detector decides and the reply
                records the fallback. Confirmations ("yes"/"no") and clarifications stay deterministic.

        Raises:
            DataError: ``signed_out`` is neither ``"refuse"`` nor ``"defer"``.
        """
        if signed_out not in ("refuse", "defer"):
            raise DataError(f"signed_out must be 'refuse' or 'defer', not '{signed_out}'")
        self.service = service
        self.signed_out = signed_out
        self.intents = IntentDetector(data or load_intents(), embed_query, embed_examples)
        self.data = self.intents.data
        self.planner = planner

    def warm(self) -> None:
        """Embed the intent examples now (a server calls this before it takes traffic: done lazily, the first
        account request would hold the embedder for seconds while other customers wait)."""
        self.intents.warm()

    def plan(self, conversation: Conversation, text: str, language: str, vector: np.ndarray) -> ActPlan | None:
        """What the account dialogue does with this message; None = not an account matter.

        Reads only: no writes to the database, no change to ``conversation``. A pending confirm/clarify
        question lives exactly one customer turn: when this returns None, the caller clears
        ``conversation.pending_action`` (:meth:`perform` sets or clears it otherwise).

        Args:
            conversation: the conversation (the signed-in customer and the pending question).
            text: the customer's message, normalised (``classify.rules.normalise``).
            language: the reply language.
            vector: the message's query embedding.
        """
        pending = conversation.pending_action
        if pending is not None and conversation.customer_id and pending.customer_id == conversation.customer_id:
            answered = self._continue(pending, text, language)
            if answered is not None:
                return answered
        return self._new_request(conversation, text, language, vector)

    def perform(self, conversation: Conversation, plan: ActPlan) -> Reply:
        """Carry ``plan`` out (service reads and writes, a confirmation before every write), set or clear
        ``conversation.pending_action``, and return the one reply.

        Args:
            conversation: the conversation ``plan`` was made for, in the same turn.
            plan: what :meth:`plan` returned.
        """
        reply, pending = carry_out(self.service, self.data.topics, plan)
        conversation.pending_action = pending
        return reply

    def handle(self, conversation: Conversation, message: str, language: str, vector: np.ndarray) -> Reply | None:
        """:meth:`plan` then :meth:`perform`; None (and no pending question any more) when it is no account
        matter."""
        planned = self.plan(conversation, rules.normalise(message or ""), language, vector)
        if planned is None:
            conversation.pending_action = None
            return None
        return self.perform(conversation, planned)

    # -- an answer to the pending question -------------------------------------------------------------

    def _continue(self, pending: PendingAction, text: str, language: str) -> ActPlan | None:
        """The plan when ``text`` answers ``pending``; None when it does not (then it is a new request)."""
        cid = pending.customer_id
        base = ActPlan("cancel", language, pending.action, cid, continues_pending=True, days=pending.days,
                       note=pending.reason)
        if pending.stage == "confirm":
            if self.intents.confirms(text):
                return replace(base, step="execute", order_id=pending.order_id)
            if self.intents.declines(text):
                return base  # cancelled: nothing changes
            slots = extract_slots(text, self.service.today)
            if action(pending.action).takes_days and slots.days and not slots.order_ids \
                    and len(text.split()) <= MAX_DAYS_ANSWER_WORDS and pending.order_id is not None:
                order = owned_order(self.service, cid, pending.order_id)
                if order is not None:  # "30 days": the same write, asked again with the new days
                    return replace(base, step="prepare", order=order, days=slots.days)
            return None
        offered = [owned_order(self.service, cid, oid) for oid in pending.candidates]
        chosen = choose_order([o for o in offered if o is not None], text, extract_slots(text, self.service.today),
                              lambda oid: owned_order(self.service, cid, oid))
        if chosen is None:
            return None
        return self._on_order(base, action(pending.action), chosen)

    def confirms(self, text: str) -> bool:
        """A yes to a yes/no question ("yes", "ja bitte", "oui")."""
        return self.intents.confirms(text)

    # -- a new request ---------------------------------------------------------------------------------

    def _new_request(self, conversation: Conversation, text: str, language: str,
                     vector: np.ndarray) -> ActPlan | None:
        if rules.looks_like_injection(text) or rules.asks_for_human(text) or self.intents.defers(text):
            return None  # the policy refuses attacks and hands these to a person
        if self.intents.other_person(text):  # checked before anything is looked up
            return ActPlan("refuse", language, customer_id=conversation.customer_id, key="not_found")
        slots = extract_slots(text, self.service.today)
        choice = self._ask_model(conversation, text, language)
        if choice is not None and choice.error is None:
            intent = Intent(choice.action, 1.0, "tool-call") if choice.action else None
            if choice.slots is not None:
                slots = merge_slots(slots, choice.slots)
        else:
            intent = self.intents.detect(text, vector, slots) or self._follow_up(conversation, text)
        planned = self._resolve(conversation, text, language, slots, intent)
        if planned is None or choice is None:
            return planned
        if choice.error is not None:
            return replace(planned, fallback_reason=choice.error)
        return replace(planned, model_path=choice.model)

    @staticmethod
    def _follow_up(conversation: Conversation, text: str) -> Intent | None:
        """A short question that leans on an account answer just given ("how much is it?", "and the one
        after?") stays with the account: the same read again, widened to the whole schedule where it helps."""
        last = conversation.last_assistant_turn()
        if last is None or last.outcome != "act" or last.tool not in FOLLOW_UP_READS:
            return None
        if len(text.split()) > FOLLOW_UP_MAX_WORDS or not rules.refers_back(text):
            return None
        return Intent(FOLLOW_UP_READS[last.tool], 1.0, "follow-up")

    def _ask_model(self, conversation: Conversation, text: str, language: str) -> ToolChoice | None:
        """The chat model's choice for a signed-in customer; None without a model or a customer."""
        if self.planner is None or conversation.customer_id is None:
            return None
        return choose_tool(self.planner, conversation, text, language)

    def _resolve(self, conversation: Conversation, text: str, language: str, slots: Slots,
                 intent: Intent | None) -> ActPlan | None:
        """Who may see what: the signed-in customer, and only their own orders."""
        if intent is None and not (slots.order_ids or slots.customer_refs):
            return None
        cid = conversation.customer_id
        named = intent.action if intent else None
        if cid is None:
            # Deferring, only an explicit account reference ("ord-10001", a customer id) gets the sign-in
            # explanation; "bill #12588" from a signed-out visitor is better served by the FAQ answer.
            explicit = slots.customer_refs or _HALLON_ORDER.search(text)
            if self.signed_out == "defer" and not explicit:
                return None
            return ActPlan("refuse", language, named, key="signed_out")
        orders, refusal = self._orders_named(cid, slots)
        if refusal is not None:
            return ActPlan("refuse", language, named if refusal == "signed_out" else None, cid, key=refusal)
        if intent is None and not slots.order_ids:
            return None  # only the customer's own id: nothing to do with the account
        intent = intent or Intent("payment_schedule", 1.0, "order-id")
        return self._route(ActPlan("show", language, intent.action, cid, score=intent.score, days=slots.days,
                                   note=text), orders, slots)

    def _orders_named(self, cid: str, slots: Slots) -> tuple[list[Order], str | None]:
        """The customer's orders, or the refusal (``not_found``, ``signed_out``) when the message names a
        customer or an order that is not theirs."""
        if any(ref != cid for ref in slots.customer_refs):
            return [], "not_found"
        try:
            orders = self.service.list_orders(cid)
        except NotSignedIn:
            return [], "signed_out"
        owned = {o.id for o in orders}
        return orders, "not_found" if any(oid not in owned for oid in slots.order_ids) else None

    def _route(self, base: ActPlan, orders: list[Order], slots: Slots) -> ActPlan:
        """The step for the action in ``base``, by the orders the request fits."""
        spec = action(str(base.action))
        if spec.order == "none":
            return replace(base, orders=tuple(orders))
        candidates, had_slots = filter_orders(self.service, str(base.customer_id), orders, slots)
        if spec.order == "optional":  # one order named: about it; several: which one; else the account
            if had_slots and len(candidates) == 1:
                return replace(base, order=candidates[0])
            return self._clarify(base, candidates, "clarify") if had_slots and candidates else base
        return self._pick(base, spec, orders, candidates, had_slots)

    def _pick(self, base: ActPlan, spec: ActionSpec, orders: list[Order], candidates: list[Order],
              had_slots: bool) -> ActPlan:
        """The one order an order-only action is about, or the question which one."""
        if not orders:
            return replace(base, step="no-orders")
        if had_slots and not candidates:
            options = [o for o in orders if self.service.eligible(spec.name, o)] or orders
            return self._clarify(base, options, "no_match")
        if had_slots:
            pool = candidates if len(candidates) == 1 else \
                [o for o in candidates if self.service.eligible(spec.name, o)] or candidates
        else:
            pool = [o for o in orders if self.service.eligible(spec.name, o)]
            if not pool and spec.fallback is not None:
                pool = spec.fallback(self.service, str(base.customer_id), orders)
        if not pool:
            return replace(base, step="nothing-to-do")
        return self._clarify(base, pool, "clarify") if len(pool) > 1 else self._on_order(base, spec, pool[0])

    @staticmethod
    def _clarify(base: ActPlan, options: list[Order], key: str) -> ActPlan:
        return replace(base, step="clarify", orders=tuple(options[:MAX_OPTIONS]), key=key)

    @staticmethod
    def _on_order(base: ActPlan, spec: ActionSpec, order: Order) -> ActPlan:
        """Do ``spec`` on ``order``: a write is prepared (dry run, then a yes), a read shown."""
        return replace(base, step="prepare" if spec.write is not None else "show", order=order)
