"""Account requests in the chat: "when is my next payment?", "I sent the shoes back, stop charging me".

``AccountActions`` implements the assistant's ``ActionHandler``. Offline and deterministic:

- intent: clear rules first, else the nearest labelled examples on the e5 query vector
  (``data/account_intents.yaml``); hand-off topics (fraud, hardship...), how-to questions and attacks are
  left to the FAQ and the policy (``None``);
- slots: order number, shop or item, amount, date, "my last order", days for an extension;
- one clarifying question when more than one order fits, a yes/no confirmation before every write
  (kept in ``conversation.pending_action``), and a refusal that reveals nothing for ids that are not the
  signed-in customer's. The customer id always comes from the session.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bnpl_assistant.accounts.service import (
    AccountsService,
    ActionResult,
    NotSignedIn,
    Order,
    OrderNotFound,
    Payment,
    PolicyRefused,
    RefundStatus,
    money,
)
from bnpl_assistant.accounts.slots import Slots, extract_slots, orders_named_by_words
from bnpl_assistant.accounts.tools import merge_slots, slots_from_arguments, tool_specs
from bnpl_assistant.classify import rules
from bnpl_assistant.conversation import Conversation, Reply
from bnpl_assistant.errors import DataError, ProviderError
from bnpl_assistant.providers.base import ToolPlanner

log = logging.getLogger(__name__)

ACTIONS = ("list_orders", "payment_schedule", "next_payment", "report_return", "extend_due_date",
           "retry_failed_payment", "open_dispute", "refund_status")
NONE = "none"
MAX_OPTIONS = 5
MAX_LINES = 10
DISPUTE_WINDOW_DAYS = 180

_I = re.IGNORECASE
_HALLON_ORDER = re.compile(r"\bord-\d{5}\b", _I)
_ORDINALS = {"first": 0, "1st": 0, "erste": 0, "ersten": 0, "second": 1, "2nd": 1, "zweite": 1, "zweiten": 1,
             "third": 2, "3rd": 2, "dritte": 2, "dritten": 2}


# -- package data ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    intent: str
    pattern: re.Pattern[str]
    personal: bool = False


@dataclass(frozen=True)
class IntentData:
    """``data/account_intents.yaml``, compiled."""

    topics: dict[str, str]
    writes: frozenset[str]
    order_actions: frozenset[str]
    rules: tuple[Rule, ...]
    procedural: re.Pattern[str]
    defer: tuple[re.Pattern[str], ...]
    attacks: tuple[re.Pattern[str], ...]
    other_person: tuple[re.Pattern[str], ...]
    personal: re.Pattern[str]
    yes: re.Pattern[str]
    no: re.Pattern[str]
    exemplars: tuple[tuple[str, str], ...]  # (label, text)
    replies: dict[str, dict[str, Any]]
    k: int = 3
    margin: float = 0.01


def load_intents(path: Path | None = None) -> IntentData:
    """Read and compile the account intents file (the package's own unless ``path`` is given).

    Raises:
        DataError: the file is malformed or names an unknown action or topic.
    """
    where = str(path or "data/account_intents.yaml")
    text = path.read_text(encoding="utf-8") if path else _package_text()
    try:
        raw = yaml.safe_load(text) or {}
        compiled = [Rule(r["intent"], re.compile(r["pattern"], _I), bool(r.get("personal", False)))
                    for r in raw["rules"]]
        exemplars = tuple((label, str(t).strip()) for label, by_lang in raw["exemplars"].items()
                          for texts in (by_lang or {}).values() for t in texts or [])
        nearest = raw.get("nearest") or {}
        data = IntentData(
            topics=dict(raw["topics"]), writes=frozenset(raw["writes"]),
            order_actions=frozenset(raw["order_actions"]),
            rules=tuple(compiled), procedural=re.compile(raw["procedural"], _I),
            defer=tuple(re.compile(p, _I) for p in raw["defer"]),
            attacks=tuple(re.compile(p, _I) for p in raw.get("attacks") or []),
            other_person=tuple(re.compile(p, _I) for p in raw.get("other_person") or []),
            personal=re.compile(raw["personal"], _I),
            yes=re.compile(raw["confirm_yes"], _I), no=re.compile(raw["confirm_no"], _I), exemplars=exemplars,
            replies=dict(raw["replies"]), k=int(nearest.get("k", 3)),
            margin=float(nearest.get("margin", 0.01)))
    except (yaml.YAMLError, KeyError, TypeError, re.error) as exc:
        raise DataError(f"invalid account intents file: {exc}", where) from exc
    unknown = ({r.intent for r in data.rules} | {label for label, _ in data.exemplars} | set(data.topics)) - {
        *ACTIONS, NONE}
    if unknown:
        raise DataError(f"unknown account actions {sorted(unknown)}; valid: {', '.join(ACTIONS)}", where)
    return data


@cache
def _package_text() -> str:
    return resources.files("bnpl_assistant").joinpath("data/account_intents.yaml").read_text(encoding="utf-8")


# -- the handler -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Intent:
    action: str
    score: float
    via: str  # "rule" | "nearest" | "order-id" | "tool-call"


@dataclass(frozen=True)
class Plan:
    """What the planner made of a request: the tool it chose (None: no account request), or its error."""

    model: str
    intent: Intent | None
    slots: Slots | None
    error: str | None = None

    def annotate(self, reply: Reply) -> None:
        if self.error is not None:
            reply.fell_back, reply.fallback_reason = True, self.error
        elif reply.outcome == "act":
            reply.model_path = self.model


class AccountActions:
    """Acts on the signed-in customer's account when a message asks for it; otherwise returns None."""

    def __init__(self, service: AccountsService, embed_query: Callable[[str], np.ndarray], *,
                 signed_out: str = "refuse", data: IntentData | None = None,
                 embed_examples: Callable[[list[str]], np.ndarray] | None = None,
                 planner: ToolPlanner | None = None) -> None:
        """Args:
            service: the accounts service (the only way to the account tables).
            embed_query: the assistant's query embedder (e5 ``query:`` vectors), used for the examples.
            signed_out: ``"refuse"``: an account request without a signed-in customer gets the sign-in
                explanation; ``"defer"``: only messages that name an order or customer id get it, the rest
                go to the FAQ (which explains where to look in the app).
            data: the intents file (default: the package's).
            embed_examples: embeds the example texts in one go (e.g. the classifier's disk cache,
                ``EmbeddingCache(settings.cache_dir, embedder).embed``); default: ``embed_query`` each.
            planner: a chat model that chooses the tool for a signed-in customer's new request by function
                calling (OpenAI path); when it fails, the offline intent detector decides and the reply
                records the fallback. Confirmations ("yes"/"no") and clarifications stay deterministic.
        """
        if signed_out not in ("refuse", "defer"):
            raise DataError(f"signed_out must be 'refuse' or 'defer', not '{signed_out}'")
        self.service = service
        self.embed_query = embed_query
        self.signed_out = signed_out
        self.data = data or load_intents()
        self.embed_examples = embed_examples
        self.planner = planner
        self._labels: np.ndarray | None = None
        self._matrix: np.ndarray | None = None
        self._lock = threading.Lock()

    # -- intent --------------------------------------------------------------------------------------

    def detect(self, text: str, vector: np.ndarray | None = None,
               slots: Slots | None = None) -> Intent | None:
        """The account action ``text`` asks for, or None (not an account request, or one for a person)."""
        if self._defers(text):
            return None
        slots = slots or extract_slots(text, self.service.today)
        anchored = slots.names_order or bool(self.data.personal.search(text))
        if self.data.procedural.search(text) and not slots.names_order:
            return None
        for rule in self.data.rules:
            if rule.pattern.search(text) and (rule.personal or anchored):
                return Intent(rule.intent, 1.0, "rule")
        if not anchored:
            return None
        label, score, margin = self.nearest(vector if vector is not None else self.embed_query(text))
        if label == NONE or margin < self.data.margin:
            return None
        return Intent(label, score, "nearest")

    def nearest(self, vector: np.ndarray) -> tuple[str, float, float]:
        """Best label by the mean similarity of its k nearest examples, its score, and its lead over
        the best "none" score."""
        labels, matrix = self._examples()
        v = np.asarray(vector, dtype=np.float32).ravel()
        norm = float(np.linalg.norm(v))
        sims = matrix @ (v / norm if norm else v)
        scores: dict[str, float] = {}
        for label in sorted(set(labels.tolist())):
            top = np.sort(sims[labels == label])[::-1][: self.data.k]
            scores[label] = float(top.mean())
        best = max((lbl for lbl in scores if lbl != NONE), key=lambda lbl: (scores[lbl], lbl))
        if scores.get(NONE, -1.0) >= scores[best]:
            return NONE, scores.get(NONE, 0.0), scores[best] - scores.get(NONE, 0.0)
        return best, scores[best], scores[best] - scores.get(NONE, -1.0)

    def warm(self) -> None:
        """Embed the examples now (a server calls this before it takes traffic: done lazily, the first
        account request would hold the embedder for seconds while other customers wait)."""
        self._examples()

    def _examples(self) -> tuple[np.ndarray, np.ndarray]:
        """The example vectors, embedded on first use (or by :meth:`warm`) and kept."""
        with self._lock:
            if self._matrix is None or self._labels is None:
                texts = [t for _, t in self.data.exemplars]
                if self.embed_examples is not None:
                    vectors = np.asarray(self.embed_examples(texts), dtype=np.float32).reshape(len(texts), -1)
                else:
                    vectors = np.stack([np.asarray(self.embed_query(t), dtype=np.float32).ravel()
                                        for t in texts])
                norms = np.linalg.norm(vectors, axis=1, keepdims=True)
                self._matrix = vectors / np.where(norms == 0, 1, norms)
                self._labels = np.array([label for label, _ in self.data.exemplars])
            return self._labels, self._matrix

    # -- ActionHandler -------------------------------------------------------------------------------

    def handle(self, conversation: Conversation, message: str, language: str,
               vector: np.ndarray) -> Reply | None:
        """Answer ``message`` from the signed-in customer's account; None when it is no account request."""
        text = rules.normalise(message or "")
        pending = conversation.pending_action
        if pending is not None:
            conversation.pending_action = None
            if conversation.customer_id and pending.get("customer_id") == conversation.customer_id:
                reply = self._continue(conversation, pending, text, language)
                if reply is not None:
                    return reply
        return self._new_request(conversation, text, language, vector)

    def _new_request(self, conversation: Conversation, text: str, language: str,
                     vector: np.ndarray) -> Reply | None:
        if rules.looks_like_injection(text) or rules.asks_for_human(text) or self._defers(text):
            return None  # the policy refuses attacks and hands these to a person
        if self._other_person(text):  # checked before anything is looked up
            return self._refusal("not_found", language, "not-found-or-not-yours", None)
        slots = extract_slots(text, self.service.today)
        plan = self._plan(conversation, text, language)
        if plan is not None and plan.error is None:
            intent = plan.intent
            if plan.slots is not None:
                slots = merge_slots(slots, plan.slots)
        else:
            intent = self.detect(text, vector, slots)
        reply = self._resolve(conversation, text, language, slots, intent)
        if reply is not None and plan is not None:
            plan.annotate(reply)
        return reply

    def _plan(self, conversation: Conversation, text: str, language: str) -> Plan | None:
        """The planner's choice for a signed-in customer; None without a planner or a customer."""
        if self.planner is None or conversation.customer_id is None:
            return None
        history = conversation.turns[:-1] if conversation.turns and conversation.turns[-1].text == text \
            else conversation.turns
        try:
            choice = self.planner.choose_tool(text, language, history, tool_specs())
        except ProviderError as exc:
            log.warning("tool choice failed, deciding offline: %s", exc)
            return Plan(self.planner.name, None, None, str(exc))
        if choice is None:
            return Plan(self.planner.name, None, None)
        name, arguments = choice
        if name not in ACTIONS:
            return Plan(self.planner.name, None, None, f"{self.planner.name} chose an unknown tool '{name}'")
        return Plan(self.planner.name, Intent(name, 1.0, "tool-call"), slots_from_arguments(arguments))

    def _resolve(self, conversation: Conversation, text: str, language: str, slots: Slots,
                 intent: Intent | None) -> Reply | None:
        ids_named = bool(slots.order_ids or slots.customer_refs)
        if intent is None and not ids_named:
            return None
        cid = conversation.customer_id
        if cid is None:
            # Deferring, only an explicit Hallon reference ("ord-10001", a customer id) gets the sign-in
            # explanation; "bill #12588" from a signed-out visitor is better served by the FAQ answer.
            explicit = slots.customer_refs or _HALLON_ORDER.search(text)
            if self.signed_out == "defer" and not explicit:
                return None
            return self._refusal("signed_out", language, "signed-out", intent)
        if any(ref != cid for ref in slots.customer_refs):
            return self._refusal("not_found", language, "not-found-or-not-yours", None)
        try:
            orders = self.service.list_orders(cid)
        except NotSignedIn:
            return self._refusal("signed_out", language, "signed-out", intent)
        owned = {o.id: o for o in orders}
        if any(oid not in owned for oid in slots.order_ids):
            return self._refusal("not_found", language, "not-found-or-not-yours", None)
        if intent is None:
            if not slots.order_ids:
                return None  # only the customer's own id: nothing to do with the account
            intent = Intent("payment_schedule", 1.0, "order-id")
        action = intent.action
        if action == "list_orders":
            return self._list_orders(orders, language, intent.score)
        candidates, had_slots = self._filter(cid, orders, slots)
        if action in ("payment_schedule", "next_payment"):
            if had_slots and len(candidates) == 1:
                return self._order_schedule(cid, candidates[0], action, language, intent.score)
            if not had_slots or not candidates:
                return self._schedule(cid, action, language, intent.score)
            return self._clarify(conversation, action, candidates, language, slots, text, intent.score)
        return self._pick_and_run(conversation, action, orders, candidates, had_slots, slots, text, language,
                                  intent.score)

    def _defers(self, text: str) -> bool:
        """For a person, for the FAQ, or an attack: not acted on."""
        return any(p.search(text) for p in (*self.data.defer, *self.data.attacks))

    def _other_person(self, text: str) -> bool:
        return rules.asks_for_other_person(text) or any(p.search(text) for p in self.data.other_person)

    def _continue(self, conversation: Conversation, pending: dict[str, Any], text: str,
                  language: str) -> Reply | None:
        action = str(pending.get("action"))
        cid = str(pending["customer_id"])
        if pending.get("stage") == "confirm":
            if self.data.yes.search(text):
                return self._execute(cid, action, str(pending["order_id"]), pending, language)
            if self.data.no.search(text):
                return self._reply(self._line("cancelled", language), language, action, "cancelled")
            slots = extract_slots(text, self.service.today)
            if action == "extend_due_date" and slots.days and not slots.order_ids and len(text.split()) <= 6:
                order = self._owned(cid, str(pending["order_id"]))
                if order is not None:
                    return self._prepare(conversation, cid, action, order, {**pending, "days": slots.days},
                                         language, 1.0)
            return None
        if pending.get("stage") == "clarify":
            owned = [self._owned(cid, oid) for oid in pending.get("candidates", [])]
            chosen = self._choose(cid, [o for o in owned if o is not None], text)
            if chosen is None:
                return None
            if action in ("payment_schedule", "next_payment"):
                return self._order_schedule(cid, chosen, action, language, 1.0)
            return self._run(conversation, cid, action, chosen, pending, language, 1.0)
        return None

    # -- resolving the order -------------------------------------------------------------------------

    def _filter(self, cid: str, orders: list[Order], slots: Slots) -> tuple[list[Order], bool]:
        """The customer's orders that fit every slot given, and whether any slot was given."""
        if slots.order_ids:
            wanted = set(slots.order_ids)
            return [o for o in orders if o.id in wanted], True
        candidates = list(orders)
        had = False
        named = orders_named_by_words(slots.words, candidates)
        if named:
            candidates, had = named, True
        if slots.amounts:
            had = True
            cents, exact = slots.amounts[0]
            found = {o.id for o in self.service.find_orders(cid, amount=money(cents))}
            if not found and not exact:  # "the 90 euro order" for 89.90
                found = {o.id for o in candidates if abs(o.amount_cents - cents) <= 100}
            candidates = [o for o in candidates if o.id in found]
        for day in slots.dates[:1]:
            had = True
            found = {o.id for o in self.service.find_orders(cid, date=day)}
            candidates = [o for o in candidates if o.id in found]
        if slots.latest:
            had = True
            candidates = candidates[:1]
        return candidates, had

    def _eligible(self, action: str, order: Order) -> bool:
        today = self.service.today
        if action == "report_return":
            return order.status != "cancelled" and order.return_status is None
        if action == "extend_due_date":
            nxt = order.next_instalment
            return (order.plan != "financing" and order.extension_days is None and nxt is not None
                    and nxt.status == "due" and nxt.due_date > today)
        if action == "retry_failed_payment":
            return any(i.status == "failed" for i in order.instalments)
        if action == "open_dispute":
            return (order.status != "cancelled" and order.return_status not in ("confirmed", "refunded")
                    and order.dispute_status != "open"
                    and order.ordered_at >= today - timedelta(days=DISPUTE_WINDOW_DAYS))
        if action == "refund_status":
            return (order.return_status is not None or order.status == "cancelled"
                    or order.dispute_status == "open")
        return True

    def _pick_and_run(self, conversation: Conversation, action: str, orders: list[Order],
                      candidates: list[Order], had_slots: bool, slots: Slots, text: str, language: str,
                      score: float) -> Reply:
        cid = str(conversation.customer_id)
        if not orders:
            return self._reply(self._line("no_orders", language), language, action, "no-orders", score)
        if had_slots and not candidates:
            options = [o for o in orders if self._eligible(action, o)] or orders
            return self._clarify(conversation, action, options, language, slots, text, score, key="no_match")
        pool = candidates if had_slots else [o for o in orders if self._eligible(action, o)]
        if had_slots and len(pool) > 1:
            pool = [o for o in pool if self._eligible(action, o)] or pool
        if not pool and not had_slots:
            pool = self._fallback(cid, action, orders)
        if not pool:
            text_none = self.data.replies[_lang(language)]["none_eligible"][action]
            return self._reply(text_none, language, action, "nothing-to-do", score)
        if len(pool) > 1:
            return self._clarify(conversation, action, pool, language, slots, text, score)
        extra = {"days": slots.days, "reason": text}
        return self._run(conversation, cid, action, pool[0], extra, language, score)

    def _fallback(self, cid: str, action: str, orders: list[Order]) -> list[Order]:
        """With no eligible order, the one order the answer is about anyway: "already reported", "already
        open", or why the next payment cannot be moved."""
        if action == "extend_due_date":
            nxt = self.service.next_payment(cid)
            return [o for o in orders if nxt is not None and o.id == nxt.order_id]
        if action == "report_return":
            reported = [o for o in orders if o.return_status == "reported"]
            return reported if len(reported) == 1 else []
        if action == "open_dispute":
            disputed = [o for o in orders if o.dispute_status == "open"]
            return disputed if len(disputed) == 1 else []
        return []

    def _clarify(self, conversation: Conversation, action: str, options: list[Order], language: str,
                 slots: Slots, text: str, score: float, key: str = "clarify") -> Reply:
        """One question naming the orders that fit; the answer is read by ``_continue``."""
        shown = options[:MAX_OPTIONS]
        conversation.pending_action = {
            "stage": "clarify", "action": action, "customer_id": conversation.customer_id,
            "candidates": [o.id for o in shown], "days": slots.days, "reason": text[:500]}
        listed = "; ".join(self._line("option", language, shop=o.shop, amount=o.amount,
                                      ordered=o.ordered_at.isoformat(), order=o.id) for o in shown)
        return self._reply(self._line(key, language, options=listed), language, action, "clarify", score)

    def _choose(self, cid: str, candidates: list[Order], text: str) -> Order | None:
        """The order the answer to a clarifying question picks, if exactly one."""
        lowered = text.lower()
        for word, index in _ORDINALS.items():
            if re.search(rf"\b{word}\b", lowered) and index < len(candidates):
                return candidates[index]
        slots = extract_slots(text, self.service.today)
        if slots.order_ids:
            return self._owned(cid, slots.order_ids[0]) if len(slots.order_ids) == 1 else None
        pool = candidates
        named = orders_named_by_words(slots.words, pool)
        if named:
            pool = named
        if slots.amounts:
            cents = slots.amounts[0][0]
            pool = [o for o in pool
                    if o.amount_cents == cents or any(i.amount_cents == cents for i in o.instalments)]
        if slots.dates:
            pool = [o for o in pool if o.ordered_at in slots.dates
                    or any(i.due_date in slots.dates for i in o.instalments)]
        if slots.latest and pool:
            pool = pool[:1]
        changed = named or slots.amounts or slots.dates or slots.latest
        return pool[0] if changed and len(pool) == 1 else None

    def _owned(self, cid: str, order_id: str) -> Order | None:
        try:
            return self.service.get_order(cid, order_id)
        except (OrderNotFound, NotSignedIn):
            return None

    # -- running an action ---------------------------------------------------------------------------

    def _run(self, conversation: Conversation, cid: str, action: str, order: Order, extra: dict[str, Any],
             language: str, score: float) -> Reply:
        if action == "refund_status":
            return self._refund(cid, order, language, score)
        if action in self.data.writes:
            return self._prepare(conversation, cid, action, order, extra, language, score)
        return self._order_schedule(cid, order, action, language, score)

    def _prepare(self, conversation: Conversation, cid: str, action: str, order: Order, extra: dict[str, Any],
                 language: str, score: float) -> Reply:
        """Check the write (dry run) and ask for confirmation, or say why it is not possible."""
        days = _extension_days(extra.get("days"))
        try:
            result = self._call(cid, action, order.id, days, str(extra.get("reason") or ""), dry_run=True)
        except PolicyRefused as exc:
            return self._policy(exc, order, language, action, score)
        except (OrderNotFound, NotSignedIn):
            return self._refusal("not_found", language, "not-found-or-not-yours", None)
        if result.repeated:
            return self._done(cid, result, language, score)
        values = self._values(cid, result, language)
        text = self._line(f"confirm_{action}", language, **values)
        if action == "extend_due_date" and days == 10:
            text += " " + self._line("confirm_extend_hint", language)
        conversation.pending_action = {"stage": "confirm", "action": action, "order_id": order.id,
                                       "customer_id": cid, "days": days,
                                       "reason": str(extra.get("reason") or "")[:500]}
        return self._reply(text, language, action, "confirm", score)

    def _execute(self, cid: str, action: str, order_id: str, pending: dict[str, Any], language: str) -> Reply:
        try:
            result = self._call(cid, action, order_id, _extension_days(pending.get("days")),
                                str(pending.get("reason") or ""), dry_run=False)
        except PolicyRefused as exc:
            order = self._owned(cid, order_id)
            if order is None:
                return self._refusal("not_found", language, "not-found-or-not-yours", None)
            return self._policy(exc, order, language, action, 1.0)
        except (OrderNotFound, NotSignedIn):
            return self._refusal("not_found", language, "not-found-or-not-yours", None)
        return self._done(cid, result, language, 1.0)

    def _call(self, cid: str, action: str, order_id: str, days: int, reason: str,
              dry_run: bool) -> ActionResult:
        if action == "report_return":
            return self.service.report_return(cid, order_id, dry_run=dry_run)
        if action == "extend_due_date":
            return self.service.extend_due_date(cid, order_id, days, dry_run=dry_run)
        if action == "retry_failed_payment":
            return self.service.retry_failed_payment(cid, order_id, dry_run=dry_run)
        if action == "open_dispute":
            return self.service.open_dispute(cid, order_id, reason, dry_run=dry_run)
        raise DataError(f"'{action}' is not a write action")

    def _done(self, cid: str, result: ActionResult, language: str, score: float) -> Reply:
        values = self._values(cid, result, language)
        action = result.action
        if result.repeated:
            key = f"already_{action}"
        elif action == "report_return" and not result.details.get("paused"):
            key = "done_report_return_nothing_open"
        else:
            key = f"done_{action}"
        reason = "already-done" if result.repeated else "done"
        return self._reply(self._line(key, language, **values), language, action, reason, score)

    def _values(self, cid: str, result: ActionResult, language: str) -> dict[str, Any]:
        d = result.details
        o = result.order
        values: dict[str, Any] = {"shop": o.shop, "order": o.id, "amount": o.amount}
        if result.action == "report_return":
            values.update(until=d.get("pause_until"), reported=d.get("reported_at"),
                          method=self._method(cid, language))
        elif result.action == "extend_due_date":
            fee = int(d.get("fee_cents", 0))
            fee_text = (self._line("fee_paid", language, fee=money(fee)) if fee
                        else self._line("fee_free", language))
            values.update(old=d.get("old_due"), new=d.get("new_due"), days=d.get("days"), fee=fee_text,
                          fee_note=self._line("fee_note", language) if fee else "")
            if result.changed:  # done: the moved payment's amount (with any fee); asking: the order's
                values["amount"] = d.get("amount")
        elif result.action == "retry_failed_payment":
            values.update(total=d.get("total"), paid=d.get("paid_at"), method=self._method(cid, language))
        elif result.action == "open_dispute":
            values.update(opened=d.get("opened_at"), decision=d.get("decision_by"))
        return values

    def _method(self, cid: str, language: str) -> str:
        return self._line(f"method_{self.service.customer(cid).payment_method}", language)

    # -- read actions --------------------------------------------------------------------------------

    def _list_orders(self, orders: list[Order], language: str, score: float) -> Reply:
        if not orders:
            return self._reply(self._line("no_orders", language), language, "list_orders", "account", score)
        lines = [self._line("orders_intro", language, count=len(orders))]
        plans = self.data.replies[_lang(language)]["plans"]
        for o in orders[:MAX_LINES]:
            plan = plans[o.plan] + (f" ({o.months})" if o.months else "")
            lines.append(self._line("order_line", language, ordered=o.ordered_at.isoformat(), shop=o.shop,
                                    order=o.id, items=", ".join(o.items), amount=o.amount, plan=plan,
                                    state=self._state(o, language)))
        if len(orders) > MAX_LINES:
            lines.append(self._line("schedule_more", language, count=len(orders) - MAX_LINES))
        return self._reply("\n".join(lines), language, "list_orders", "account", score)

    def _state(self, o: Order, language: str) -> str:
        if o.status == "cancelled":
            return self._line("state_cancelled", language)
        if o.return_status in ("confirmed", "refunded"):
            return self._line("state_refunded", language)
        failed = [i for i in o.instalments if i.status == "failed"]
        if failed:
            return self._line("state_overdue", language, amount=failed[0].amount,
                              date=failed[0].due_date.isoformat())
        if o.return_status == "reported" and o.return_pause_until:
            return self._line("state_return", language, date=o.return_pause_until.isoformat())
        if o.dispute_status == "open":
            return self._line("state_dispute", language)
        nxt = o.next_instalment
        if nxt is None:
            return self._line("state_paid", language)
        return self._line("state_next", language, amount=nxt.amount, date=nxt.due_date.isoformat())

    def _schedule(self, cid: str, action: str, language: str, score: float) -> Reply:
        overdue = self.service.overdue_payments(cid)
        if action == "next_payment":
            nxt = self.service.next_payment(cid)
            parts = [self._payment_line("next_payment", nxt, language) if nxt
                     else self._line("next_none", language)]
            parts += [self._payment_line("overdue", p, language) for p in overdue]
            return self._reply(" ".join(parts), language, action, "account", score)
        schedule = self.service.payment_schedule(cid)
        if not schedule:
            return self._reply(self._line("schedule_none", language), language, action, "account", score)
        lines = [self._line("schedule_intro", language)]
        lines += [self._schedule_line(p, language) for p in schedule[:MAX_LINES]]
        if len(schedule) > MAX_LINES:
            lines.append(self._line("schedule_more", language, count=len(schedule) - MAX_LINES))
        return self._reply("\n".join(lines), language, action, "account", score)

    def _order_schedule(self, cid: str, order: Order, action: str, language: str, score: float) -> Reply:
        payments = self.service.payment_schedule(cid, order.id)
        if action == "next_payment":
            upcoming = [p for p in payments if p.status == "due" and p.due_date >= self.service.today]
            failed = [p for p in payments if p.status == "failed"]
            parts = [self._payment_line("next_payment", upcoming[0], language) if upcoming
                     else self._line("next_none", language)]
            parts += [self._payment_line("overdue", p, language) for p in failed]
            return self._reply(" ".join(parts), language, action, "account", score)
        plans = self.data.replies[_lang(language)]["plans"]
        lines = [self._line("schedule_order_intro", language, shop=order.shop, order=order.id,
                            amount=order.amount, plan=plans[order.plan])]
        lines += [self._schedule_line(p, language, with_paid=True) for p in payments[:MAX_LINES + 2]]
        if len(payments) > MAX_LINES + 2:
            lines.append(self._line("schedule_more", language, count=len(payments) - MAX_LINES - 2))
        return self._reply("\n".join(lines), language, "payment_schedule", "account", score)

    def _payment_line(self, key: str, p: Payment, language: str) -> str:
        return self._line(key, language, amount=p.amount, date=p.due_date.isoformat(), shop=p.shop,
                          order=p.order_id, seq=p.seq, of=p.of)

    def _schedule_line(self, p: Payment, language: str, with_paid: bool = False) -> str:
        status = ""
        if p.status == "failed":
            status = self._line("status_failed", language)
        elif p.status == "paused":
            status = (self._line("status_paused_until", language, date=p.paused_until.isoformat())
                      if p.paused_until else self._line("status_paused", language))
        elif with_paid and p.status in ("paid", "cancelled"):
            status = self._line(f"status_{p.status}", language)
        return self._line("schedule_line", language, date=p.due_date.isoformat(), amount=p.amount,
                          shop=p.shop, order=p.order_id, status=status)

    def _refund(self, cid: str, order: Order, language: str, score: float) -> Reply:
        status: RefundStatus = self.service.refund_status(cid, order.id)
        key = {"none": "refund_none", "waiting-for-shop": "refund_waiting", "confirmed": "refund_confirmed",
               "refunded": "refund_refunded", "cancelled": "refund_cancelled",
               "dispute-open": "refund_dispute"}[status.state]
        if status.state in ("confirmed", "refunded", "cancelled") and status.paid_cents == 0:
            key += "_unpaid"  # nothing was collected, so no money goes back
        values = {"shop": order.shop, "order": order.id, "amount": order.amount,
                  "refund": money(status.refund_cents), "paid": money(status.paid_cents),
                  "method": self._line(f"method_{status.payment_method}", language),
                  "since": _iso(status.since), "until": _iso(status.expected_by),
                  "start": _iso(status.expected_from), "end": _iso(status.expected_by)}
        return self._reply(self._line(key, language, **values), language, "refund_status", "account", score)

    # -- replies -------------------------------------------------------------------------------------

    def _policy(self, exc: PolicyRefused, order: Order, language: str, action: str, score: float) -> Reply:
        table = self.data.replies[_lang(language)]["policy"]
        template = table.get(exc.code)
        text = template.format(shop=order.shop, order=order.id, amount=order.amount,
                               ordered=order.ordered_at.isoformat()) if template else str(exc)
        return self._reply(text, language, action, f"policy:{exc.code}", score)

    def _refusal(self, key: str, language: str, reason: str, intent: Intent | None) -> Reply:
        topic = self.data.topics.get(intent.action) if intent else None
        return Reply(text=self._line(key, language), outcome="refuse", topic=topic,
                     retrieved_topics=[topic] if topic else [], sources=[], language=language, confidence=1.0,
                     reason=reason)

    def _reply(self, text: str, language: str, action: str, reason: str, confidence: float = 1.0) -> Reply:
        topic = self.data.topics.get(action)
        return Reply(text=text, outcome="act", topic=topic, retrieved_topics=[topic] if topic else [],
                     sources=[], language=language, confidence=float(confidence), reason=reason, tool=action)

    def _line(self, key: str, language: str, **values: Any) -> str:
        table = self.data.replies[_lang(language)]
        template = table.get(key) or self.data.replies["en"][key]
        return str(template).format(**values) if values else str(template)


def _lang(language: str) -> str:
    return "de" if language == "de" else "en"


def _iso(value: date | None) -> str:
    return value.isoformat() if value else ""


def _extension_days(days: Any) -> int:
    """The policy's option for the days asked: up to 10 -> 10 (free), up to 30 -> 30 (fee), more stays."""
    if not days:
        return 10
    n = int(days)
    if n <= 10:
        return 10
    if n <= 30:
        return 30
    return n
