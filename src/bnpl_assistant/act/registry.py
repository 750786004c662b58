"""The account actions, one entry each: what the action is for the chat model (tool definition), whether it
reads or writes, whether it needs an order, the accounts-service call, and its reply lines.

Adding an action = one :class:`ActionSpec` here + its reply lines in ``data/prompts/account_replies.yaml``
(and, for the offline detector, its rules, examples and FAQ topic in ``data/account_intents.yaml``). Which
orders an action may be done on is the accounts service's policy (``AccountsService.eligible``), never
decided here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from bnpl_assistant.accounts.service import AccountsService, ActionResult, Order, money
from bnpl_assistant.act import views
from bnpl_assistant.act.views import Scene
from bnpl_assistant.conversation import Reply
from bnpl_assistant.errors import DataError

OrderNeed = Literal["none", "optional", "required"]
AccountView = Callable[[Scene, str, list[Order]], Reply]
OrderView = Callable[[Scene, str, Order], Reply]
# (service, customer id, order id, days, reason, dry_run) -> the service's result
WriteCall = Callable[[AccountsService, str, str, int, str, bool], ActionResult]
Values = Callable[[Scene, ActionResult], dict[str, Any]]
Fallback = Callable[[AccountsService, str, list[Order]], list[Order]]


@dataclass(frozen=True)
class Write:
    """A write action: the service call (``dry_run=True`` checks without changing anything) and its lines.

    Attributes:
        call: the accounts-service method.
        confirm: the yes/no question asked before the write; ``done``: after it; ``already``: a repeat.
        values: the template values beyond shop, order and amount.
        done_nothing_paused: used instead of ``done`` when the write found no payment to pause.
        confirm_hint_if_free: added to the question when the free option was asked.
    """

    call: WriteCall
    confirm: str
    done: str
    already: str
    values: Values | None = None
    done_nothing_paused: str = ""
    confirm_hint_if_free: str = ""


@dataclass(frozen=True)
class ActionSpec:
    """One account action.

    Attributes:
        name: the action's (and tool's) name.
        description: what the tool does, for the chat model.
        parameters: the tool's arguments (JSON schema properties); never a customer id.
        order: ``none``: about the whole account; ``optional``: the whole account or the order named;
            ``required``: one order, offered from those the service finds eligible.
        write: the write (None: a read action).
        account_view: the reply about the whole account (read actions).
        order_view: the reply about one order (read actions).
        fallback: with no eligible order, the one order the answer is about anyway.
        takes_days: the customer may name a number of days (and change it at the confirmation).
    """

    name: str
    description: str
    parameters: Mapping[str, Any]
    order: OrderNeed
    write: Write | None = None
    account_view: AccountView | None = None
    order_view: OrderView | None = None
    fallback: Fallback | None = None
    takes_days: bool = False


# -- values and fallbacks of the write actions ----------------------------------------------------------


def _return_values(scene: Scene, result: ActionResult) -> dict[str, Any]:
    d = result.details
    return {"until": d.get("pause_until"), "reported": d.get("reported_at"), "method": scene.method()}


def _extension_values(scene: Scene, result: ActionResult) -> dict[str, Any]:
    d, voice = result.details, scene.voice
    fee = int(d.get("fee_cents", 0))
    values: dict[str, Any] = {
        "old": d.get("old_due"), "new": d.get("new_due"), "days": d.get("days"),
        "fee": voice.line("fee_paid", fee=money(fee)) if fee else voice.line("fee_free"),
        "fee_note": voice.line("fee_note") if fee else ""}
    if result.changed:  # done: the moved payment's amount (with any fee); asking: the order's
        values["amount"] = d.get("amount")
    return values


def _retry_values(scene: Scene, result: ActionResult) -> dict[str, Any]:
    d = result.details
    return {"total": d.get("total"), "paid": d.get("paid_at"), "method": scene.method()}


def _dispute_values(scene: Scene, result: ActionResult) -> dict[str, Any]:
    d = result.details
    return {"opened": d.get("opened_at"), "decision": d.get("decision_by")}


def _next_payment_order(service: AccountsService, cid: str, orders: list[Order]) -> list[Order]:
    """Why the next payment cannot be moved is about the order it belongs to."""
    nxt = service.next_payment(cid)
    return [o for o in orders if nxt is not None and o.id == nxt.order_id]


def _reported_order(service: AccountsService, cid: str, orders: list[Order]) -> list[Order]:
    """The one order whose return is already reported ("already reported")."""
    reported = [o for o in orders if o.return_status == "reported"]
    return reported if len(reported) == 1 else []


def _disputed_order(service: AccountsService, cid: str, orders: list[Order]) -> list[Order]:
    """The one order with an open dispute ("already open")."""
    disputed = [o for o in orders if o.dispute_status == "open"]
    return disputed if len(disputed) == 1 else []


# -- the actions ----------------------------------------------------------------------------------------

_ORDER_REFERENCE: dict[str, Any] = {
    "order_id": {"type": "string", "description": "order number, e.g. ord-10001, only if the customer "
                                                  "gave it"},
    "shop_or_item": {"type": "string", "description": "shop name or item the customer used for the order, "
                                                      "e.g. 'shoes' or 'Nordic Outdoor'"},
    "amount_eur": {"type": "number", "description": "order amount the customer mentioned, in EUR"},
    "date": {"type": "string", "description": "order or payment date the customer mentioned, YYYY-MM-DD"},
    "latest": {"type": "boolean", "description": "true when the customer means their most recent order"},
}

_SPECS = (
    ActionSpec("list_orders", "List the signed-in customer's orders with their plan and state.", {}, "none",
               account_view=views.orders),
    ActionSpec("payment_schedule", "Show the upcoming instalments, for all orders or for the order the customer "
               "names.", _ORDER_REFERENCE, "optional", account_view=views.account_schedule,
               order_view=views.order_schedule),
    ActionSpec("next_payment", "Tell the customer when their next payment is due and how much it is.",
               _ORDER_REFERENCE, "optional", account_view=views.account_schedule, order_view=views.order_schedule),
    ActionSpec("report_return", "Report that the customer sent an order back (pauses its payments). Asks the "
               "customer to confirm before anything changes.", _ORDER_REFERENCE, "required",
               write=Write(lambda s, c, o, days, reason, dry: s.report_return(c, o, dry_run=dry),
                           "confirm_report_return", "done_report_return", "already_report_return",
                           _return_values, done_nothing_paused="done_report_return_nothing_open"),
               fallback=_reported_order),
    ActionSpec("extend_due_date", "Move the next payment of an order later (10 days free, 30 days for a fee). "
               "Asks the customer to confirm first.",
               {**_ORDER_REFERENCE, "days": {"type": "integer", "description": "days asked for"}}, "required",
               write=Write(lambda s, c, o, days, reason, dry: s.extend_due_date(c, o, days, dry_run=dry),
                           "confirm_extend_due_date", "done_extend_due_date", "already_extend_due_date",
                           _extension_values, confirm_hint_if_free="confirm_extend_hint"),
               fallback=_next_payment_order, takes_days=True),
    ActionSpec("retry_failed_payment", "Collect a failed payment again now. Asks the customer to confirm first.",
               _ORDER_REFERENCE, "required",
               write=Write(lambda s, c, o, days, reason, dry: s.retry_failed_payment(c, o, dry_run=dry),
                           "confirm_retry_failed_payment", "done_retry_failed_payment",
                           "already_retry_failed_payment", _retry_values)),
    ActionSpec("open_dispute", "Open a dispute for an order (item not received, faulty, not as described). "
               "Asks the customer to confirm first.",
               {**_ORDER_REFERENCE, "reason": {"type": "string", "description": "the problem, briefly"}},
               "required",
               write=Write(lambda s, c, o, days, reason, dry: s.open_dispute(c, o, reason, dry_run=dry),
                           "confirm_open_dispute", "done_open_dispute", "already_open_dispute", _dispute_values),
               fallback=_disputed_order),
    ActionSpec("refund_status", "Say where the refund for a returned or cancelled order is.", _ORDER_REFERENCE,
               "required", order_view=views.refund),
)

REGISTRY: dict[str, ActionSpec] = {spec.name: spec for spec in _SPECS}
ACTIONS = tuple(REGISTRY)


def action(name: str) -> ActionSpec:
    """The registry entry of ``name``.

    Raises:
        DataError: no such action.
    """
    try:
        return REGISTRY[name]
    except KeyError:
        raise DataError(f"unknown account action '{name}'; valid: {', '.join(ACTIONS)}") from None


def tool_specs() -> list[dict[str, Any]]:
    """The tools in OpenAI's function format (what ``bind_tools`` takes), one per account action."""
    return [{"type": "function", "function": {
        "name": spec.name, "description": spec.description,
        "parameters": {"type": "object", "properties": dict(spec.parameters), "additionalProperties": False}}}
        for spec in _SPECS]
