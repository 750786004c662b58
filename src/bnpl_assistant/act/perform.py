"""Carrying an account plan out: the accounts-service reads and writes (a dry run, then a yes from the
customer, before every write), the one reply, and the question left pending for the next turn."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from bnpl_assistant.accounts.service import (
    AccountsService,
    ActionResult,
    NotSignedIn,
    OrderNotFound,
    PolicyRefused,
)
from bnpl_assistant.act import replies
from bnpl_assistant.act.plan import ActPlan
from bnpl_assistant.act.registry import ActionSpec, Write, action
from bnpl_assistant.act.replies import Voice
from bnpl_assistant.act.resolve import extension_days, owned_order
from bnpl_assistant.act.state import PendingAction
from bnpl_assistant.act.views import Scene
from bnpl_assistant.conversation import Reply
from bnpl_assistant.errors import DataError

MAX_REASON = 500
Outcome = tuple[Reply, PendingAction | None]
T = TypeVar("T")


def carry_out(service: AccountsService, topics: Mapping[str, str], plan: ActPlan) -> Outcome:
    """Do what ``plan`` says.

    Args:
        service: the accounts service.
        topics: the FAQ topic of each action (the replies are filed under it).
        plan: the plan, from ``AccountAgent.plan`` in this turn.

    Returns:
        The reply, and the question now waiting for the customer's next message (None: nothing waits).
    """
    voice = Voice(plan.language, topics, plan.score, plan.model_path, plan.fallback_reason)
    if plan.step == "refuse":
        return voice.refuse(plan.key, plan.action), None
    spec = action(_needed(plan.action, "an action"))
    scene = Scene(service, _needed(plan.customer_id, "a customer"), voice)
    return _STEPS[plan.step](scene, spec, plan)


def _cancel(scene: Scene, spec: ActionSpec, plan: ActPlan) -> Outcome:
    return scene.voice.act(scene.voice.line("cancelled"), spec.name, "cancelled"), None


def _no_orders(scene: Scene, spec: ActionSpec, plan: ActPlan) -> Outcome:
    return scene.voice.act(scene.voice.line("no_orders"), spec.name, "no-orders"), None


def _nothing_to_do(scene: Scene, spec: ActionSpec, plan: ActPlan) -> Outcome:
    return scene.voice.act(scene.voice.group("none_eligible")[spec.name], spec.name, "nothing-to-do"), None


def _clarify(scene: Scene, spec: ActionSpec, plan: ActPlan) -> Outcome:
    """One question naming the orders that fit; the answer is read by ``AccountAgent.plan`` next turn."""
    pending = PendingAction("clarify", spec.name, scene.customer_id, candidates=tuple(o.id for o in plan.orders),
                            days=plan.days, reason=plan.note[:MAX_REASON])
    return replies.clarify(scene.voice, spec.name, plan.orders, plan.key), pending


def _show(scene: Scene, spec: ActionSpec, plan: ActPlan) -> Outcome:
    if plan.order is not None and spec.order_view is not None:
        return spec.order_view(scene, spec.name, plan.order), None
    if plan.order is None and spec.account_view is not None:
        return spec.account_view(scene, spec.name, list(plan.orders)), None
    raise DataError(f"'{spec.name}' has no view for this step")


def _prepare(scene: Scene, spec: ActionSpec, plan: ActPlan) -> Outcome:
    """Check the write (dry run) and ask for a yes, or say why it is not possible."""
    write, order, voice = _write_of(spec), _needed(plan.order, "an order"), scene.voice
    days = extension_days(plan.days)
    try:
        result = write.call(scene.service, scene.customer_id, order.id, days, plan.note, True)
    except PolicyRefused as exc:
        return replies.policy(voice, exc, order, spec.name), None
    except (OrderNotFound, NotSignedIn):
        return voice.refuse("not_found"), None
    if result.repeated:
        return _done(scene, spec, result), None
    text = voice.line(write.confirm, **_values(scene, write, result))
    if write.confirm_hint_if_free and result.details.get("fee_cents") == 0:
        text += " " + voice.line(write.confirm_hint_if_free)
    pending = PendingAction("confirm", spec.name, scene.customer_id, order_id=order.id, days=days,
                            reason=plan.note[:MAX_REASON])
    return voice.act(text, spec.name, "confirm"), pending


def _execute(scene: Scene, spec: ActionSpec, plan: ActPlan) -> Outcome:
    """The write the customer said yes to."""
    write, order_id, voice = _write_of(spec), _needed(plan.order_id, "an order"), scene.voice
    try:
        result = write.call(scene.service, scene.customer_id, order_id, extension_days(plan.days), plan.note, False)
    except PolicyRefused as exc:
        order = owned_order(scene.service, scene.customer_id, order_id)
        return (voice.refuse("not_found") if order is None else replies.policy(voice, exc, order, spec.name)), None
    except (OrderNotFound, NotSignedIn):
        return voice.refuse("not_found"), None
    return _done(scene, spec, result), None


_STEPS: dict[str, Callable[[Scene, ActionSpec, ActPlan], Outcome]] = {
    "cancel": _cancel, "no-orders": _no_orders, "nothing-to-do": _nothing_to_do, "clarify": _clarify,
    "show": _show, "prepare": _prepare, "execute": _execute}


def _done(scene: Scene, spec: ActionSpec, result: ActionResult) -> Reply:
    write = _write_of(spec)
    if result.repeated:
        key = write.already
    elif write.done_nothing_paused and not result.details.get("paused"):
        key = write.done_nothing_paused
    else:
        key = write.done
    reason = "already-done" if result.repeated else "done"
    return scene.voice.act(scene.voice.line(key, **_values(scene, write, result)), spec.name, reason)


def _values(scene: Scene, write: Write, result: ActionResult) -> dict[str, Any]:
    order = result.order
    values: dict[str, Any] = {"shop": order.shop, "order": order.id, "amount": order.amount}
    if write.values is not None:
        values.update(write.values(scene, result))
    return values


def _write_of(spec: ActionSpec) -> Write:
    if spec.write is None:
        raise DataError(f"'{spec.name}' is not a write action")
    return spec.write


def _needed(value: T | None, what: str) -> T:
    if value is None:
        raise DataError(f"this account step needs {what}")
    return value
