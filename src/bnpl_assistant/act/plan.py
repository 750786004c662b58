"""What the account dialogue does with one message (:class:`ActPlan`): decided from reads only, carried out
later in the same turn."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bnpl_assistant.accounts.service import Order

Step = Literal["refuse", "cancel", "execute", "prepare", "show", "clarify", "no-orders", "nothing-to-do"]


@dataclass(frozen=True)
class ActPlan:
    """One account step, decided by ``AccountAgent.plan`` and carried out by ``AccountAgent.perform``.

    Attributes:
        step: ``refuse`` (signed out, or not the customer's order: ``key``); ``cancel`` (the customer said no
            to a pending write); ``execute`` (the customer said yes: do the write); ``prepare`` (check a write
            and ask for a yes, or say why not); ``show`` (a read action, about ``order`` or the account);
            ``clarify`` (ask which of ``orders``); ``no-orders``; ``nothing-to-do`` (no order qualifies).
        language: the reply language.
        action: the registry action (None: a refusal that names none).
        customer_id: the signed-in customer (None: the signed-out refusal).
        continues_pending: the message answers the pending confirm/clarify question.
        score: the reply's confidence.
        order: the order a ``prepare`` or ``show`` step is about.
        order_id: the order an ``execute`` step writes to.
        orders: ``show``: the customer's orders; ``clarify``: the orders offered.
        key: ``refuse``: ``signed_out`` | ``not_found``; ``clarify``: ``clarify`` | ``no_match``.
        days: the days the customer asked for (extensions).
        note: the customer's words, kept as a dispute's reason.
        model_path: the chat model that chose the action by function calling ("offline": none did).
        fallback_reason: why the chat model's choice was not used (it failed); None when it was not asked or
            answered.
    """

    step: Step
    language: str
    action: str | None = None
    customer_id: str | None = None
    continues_pending: bool = False
    score: float = 1.0
    order: Order | None = None
    order_id: str | None = None
    orders: tuple[Order, ...] = ()
    key: str = ""
    days: int | None = None
    note: str = ""
    model_path: str = "offline"
    fallback_reason: str | None = None
