"""The account actions as tools for a chat model's function calling (OpenAI path).

The model only chooses the action and how the customer named the order; it never sees or passes a customer
id (the session supplies it), and the reply's figures come from the database through the same templates as
the offline path, so the model never writes an amount or a date. Arguments are untrusted input:
:func:`slots_from_arguments` keeps only well-formed values, and every order they name still goes through
the ownership check.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from bnpl_assistant.accounts.slots import Slots, words_of

MAX_TEXT_ARG = 200

_ORDER_REFERENCE: dict[str, Any] = {
    "order_id": {"type": "string", "description": "Hallon order number, e.g. ord-10001, only if the customer "
                                                  "gave it"},
    "shop_or_item": {"type": "string", "description": "shop name or item the customer used for the order, "
                                                      "e.g. 'shoes' or 'Nordic Outdoor'"},
    "amount_eur": {"type": "number", "description": "order amount the customer mentioned, in EUR"},
    "date": {"type": "string", "description": "order or payment date the customer mentioned, YYYY-MM-DD"},
    "latest": {"type": "boolean", "description": "true when the customer means their most recent order"},
}

_DESCRIPTIONS = {
    "list_orders": ("List the signed-in customer's orders with their plan and state.", {}),
    "payment_schedule": ("Show the upcoming instalments, for all orders or for the order the customer "
                         "names.", _ORDER_REFERENCE),
    "next_payment": ("Tell the customer when their next payment is due and how much it is.", _ORDER_REFERENCE),
    "report_return": ("Report that the customer sent an order back (pauses its payments). Asks the customer "
                      "to confirm before anything changes.", _ORDER_REFERENCE),
    "extend_due_date": ("Move the next payment of an order later (10 days free, 30 days for a fee). Asks "
                        "the customer to confirm first.",
                        {**_ORDER_REFERENCE, "days": {"type": "integer", "description": "days asked for"}}),
    "retry_failed_payment": ("Collect a failed payment again now. Asks the customer to confirm first.",
                             _ORDER_REFERENCE),
    "open_dispute": ("Open a dispute for an order (item not received, faulty, not as described). Asks the "
                     "customer to confirm first.",
                     {**_ORDER_REFERENCE, "reason": {"type": "string", "description": "the problem, briefly"}}),
    "refund_status": ("Say where the refund for a returned or cancelled order is.", _ORDER_REFERENCE),
}


def tool_specs() -> list[dict[str, Any]]:
    """The tools in OpenAI's function format (what ``bind_tools`` takes), one per account action."""
    specs = []
    for name in _DESCRIPTIONS:
        description, properties = _DESCRIPTIONS[name]
        specs.append({"type": "function", "function": {
            "name": name, "description": description,
            "parameters": {"type": "object", "properties": dict(properties), "additionalProperties": False}}})
    return specs


_ORDER_ID = re.compile(r"^\s*(?:ord-?)?(\d{5})\s*$", re.IGNORECASE)


def slots_from_arguments(arguments: dict[str, Any]) -> Slots:
    """Slots from a tool call's arguments; malformed values are dropped, unknown keys ignored (a
    ``customer_id`` a model may invent included: the customer always comes from the session)."""
    slots = Slots()
    order_id = arguments.get("order_id")
    if isinstance(order_id, str):
        m = _ORDER_ID.match(order_id)
        if m:
            slots.order_ids.append(f"ord-{m.group(1)}")
        elif order_id.strip():
            slots.order_ids.append(order_id.strip()[:MAX_TEXT_ARG])  # not one of ours: refused, reveals nothing
    words = arguments.get("shop_or_item")
    if isinstance(words, str):
        slots.words = words_of(words[:MAX_TEXT_ARG])
    amount = arguments.get("amount_eur")
    if isinstance(amount, int | float) and not isinstance(amount, bool) and 0 < amount < 100_000:
        cents = int(round(float(amount) * 100))
        slots.amounts.append((cents, cents % 100 != 0))
    day = arguments.get("date")
    if isinstance(day, str):
        try:
            slots.dates.append(date.fromisoformat(day.strip()[:10]))
        except ValueError:
            pass
    slots.latest = arguments.get("latest") is True
    days = arguments.get("days")
    if isinstance(days, int) and not isinstance(days, bool) and 0 < days <= 365:
        slots.days = days
    return slots


def merge_slots(from_text: Slots, from_model: Slots) -> Slots:
    """The text's own slots (customer references included: they are what the refusal checks read) plus
    whatever the model added."""
    return Slots(
        order_ids=list(dict.fromkeys(from_text.order_ids + from_model.order_ids)),
        customer_refs=list(from_text.customer_refs),
        amounts=from_text.amounts or from_model.amounts,
        dates=from_text.dates or from_model.dates,
        latest=from_text.latest or from_model.latest,
        days=from_text.days or from_model.days,
        words=from_model.words or from_text.words,
    )
