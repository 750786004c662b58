"""Which of the signed-in customer's orders a request means: the text's slots merged with a chat model's tool
arguments, the orders that fit them, the order an answer to a clarifying question picks, and the policy
option for the days asked."""

from __future__ import annotations

import re
from collections.abc import Callable

from bnpl_assistant.accounts.service import EXTENSION_FEES, AccountsService, NotSignedIn, Order, OrderNotFound, money
from bnpl_assistant.act.slots import Slots, orders_named_by_words

AMOUNT_TOLERANCE_CENTS = 100  # "the 90 euro order" may be the one of 89.90
_ORDINALS = {"first": 0, "1st": 0, "erste": 0, "ersten": 0, "second": 1, "2nd": 1, "zweite": 1, "zweiten": 1,
             "third": 2, "3rd": 2, "dritte": 2, "dritten": 2}


def merge_slots(from_text: Slots, from_model: Slots) -> Slots:
    """The text's own slots (customer references included: they are what the refusal checks read) plus
    whatever the model added.

    Args:
        from_text: the slots extracted from the message.
        from_model: the slots of the tool call's arguments.
    """
    return Slots(
        order_ids=list(dict.fromkeys(from_text.order_ids + from_model.order_ids)),
        customer_refs=list(from_text.customer_refs),
        amounts=from_text.amounts or from_model.amounts,
        dates=from_text.dates or from_model.dates,
        latest=from_text.latest or from_model.latest,
        days=from_text.days or from_model.days,
        words=from_model.words or from_text.words,
    )


def filter_orders(service: AccountsService, cid: str, orders: list[Order], slots: Slots) -> tuple[list[Order], bool]:
    """The customer's orders that fit every slot given, and whether any slot was given.

    Args:
        service: the accounts service (amount and date matches).
        cid: the signed-in customer.
        orders: the customer's orders, newest first.
        slots: what the request says about the order.
    """
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
        found = {o.id for o in service.find_orders(cid, amount=money(cents))}
        if not found and not exact:  # "the 90 euro order" for 89.90
            found = {o.id for o in candidates if abs(o.amount_cents - cents) <= AMOUNT_TOLERANCE_CENTS}
        candidates = [o for o in candidates if o.id in found]
    for day in slots.dates[:1]:
        had = True
        found = {o.id for o in service.find_orders(cid, date=day)}
        candidates = [o for o in candidates if o.id in found]
    if slots.latest:
        had = True
        candidates = candidates[:1]
    return candidates, had


def choose_order(candidates: list[Order], text: str, slots: Slots,
                 owned: Callable[[str], Order | None]) -> Order | None:
    """The order an answer to a clarifying question picks, if exactly one.

    Args:
        candidates: the orders offered, in the order they were shown.
        text: the answer.
        slots: the answer's slots.
        owned: the signed-in customer's order of an id, None for any other (an order number in the answer
            may name an order that was not offered).
    """
    lowered = text.lower()
    for word, index in _ORDINALS.items():
        if re.search(rf"\b{word}\b", lowered) and index < len(candidates):
            return candidates[index]
    if slots.order_ids:
        return owned(slots.order_ids[0]) if len(slots.order_ids) == 1 else None
    pool = candidates
    named = orders_named_by_words(slots.words, pool)
    if named:
        pool = named
    if slots.amounts:
        cents = slots.amounts[0][0]
        pool = [o for o in pool if o.amount_cents == cents or any(i.amount_cents == cents for i in o.instalments)]
    if slots.dates:
        pool = [o for o in pool if o.ordered_at in slots.dates
                or any(i.due_date in slots.dates for i in o.instalments)]
    if slots.latest and pool:
        pool = pool[:1]
    changed = named or slots.amounts or slots.dates or slots.latest
    return pool[0] if changed and len(pool) == 1 else None


def extension_days(days: int | None) -> int:
    """The policy's option for the days asked: the smallest that covers them (up to 10 -> 10, free; up to
    30 -> 30, with a fee); more stays as asked (and the service refuses it)."""
    if not days:
        return min(EXTENSION_FEES)
    return next((option for option in sorted(EXTENSION_FEES) if days <= option), days)



def owned_order(service: AccountsService, cid: str, order_id: str) -> Order | None:
    """The signed-in customer's order ``order_id``; None for an order that is missing or someone else's."""
    try:
        return service.get_order(cid, order_id)
    except (OrderNotFound, NotSignedIn):
        return None
