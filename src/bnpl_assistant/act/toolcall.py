"""A chat model choosing the account action by function calling (OpenAI path), and its arguments as slots.

The model only chooses the action and how the customer named the order; it never sees or passes a customer
id (the session supplies it), and the reply's figures come from the database through the same templates as
the offline path, so the model never writes an amount or a date. Arguments are untrusted input:
:func:`slots_from_arguments` keeps only well-formed values, and every order they name still goes through
the ownership check.
"""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from bnpl_assistant.act.registry import ACTIONS, tool_specs
from bnpl_assistant.act.slots import Slots, words_of
from bnpl_assistant.conversation import Conversation
from bnpl_assistant.errors import ProviderError
from bnpl_assistant.providers.base import ToolPlanner

log = logging.getLogger(__name__)

MAX_TEXT_ARG = 200
MAX_AMOUNT_EUR = 100_000
MAX_DAYS = 365
_ORDER_ID = re.compile(r"^\s*(?:ord-?)?(\d{5})\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class ToolChoice:
    """What the model made of a request: the action it chose (None: no account request) with the slots its
    arguments name, or the error that made it fail (then the offline detector decides)."""

    model: str
    action: str | None = None
    slots: Slots | None = None
    error: str | None = None


def choose_tool(planner: ToolPlanner, conversation: Conversation, text: str, language: str) -> ToolChoice:
    """Ask ``planner`` which account tool ``text`` calls for, with the earlier turns as context.

    Args:
        planner: the chat model.
        conversation: the conversation (its last turn is ``text`` itself when the caller recorded it).
        text: the normalised message.
        language: the reply language.
    """
    turns = conversation.turns
    history = turns[:-1] if turns and turns[-1].text == text else turns
    try:
        choice = planner.choose_tool(text, language, history, tool_specs())
    except ProviderError as exc:
        log.warning("tool choice failed, deciding offline: %s", exc)
        return ToolChoice(planner.name, error=str(exc))
    if choice is None:
        return ToolChoice(planner.name)
    name, arguments = choice
    if name not in ACTIONS:
        return ToolChoice(planner.name, error=f"{planner.name} chose an unknown tool '{name}'")
    return ToolChoice(planner.name, name, slots_from_arguments(arguments))


def slots_from_arguments(arguments: dict[str, Any]) -> Slots:
    """Slots from a tool call's arguments; malformed values are dropped, unknown keys ignored (a
    ``customer_id`` a model may invent included: the customer always comes from the session).

    Args:
        arguments: the tool call's arguments, as the model sent them.
    """
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
    if isinstance(amount, int | float) and not isinstance(amount, bool) and 0 < amount < MAX_AMOUNT_EUR:
        cents = round(float(amount) * 100)
        slots.amounts.append((cents, cents % 100 != 0))
    day = arguments.get("date")
    if isinstance(day, str):
        with contextlib.suppress(ValueError):
            slots.dates.append(date.fromisoformat(day.strip()[:10]))
    slots.latest = arguments.get("latest") is True
    days = arguments.get("days")
    if isinstance(days, int) and not isinstance(days, bool) and 0 < days <= MAX_DAYS:
        slots.days = days
    return slots
