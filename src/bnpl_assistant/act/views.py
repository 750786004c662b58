"""The read actions' replies: the customer's orders, payment schedules and refund status, from the
accounts service, written with the account template lines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bnpl_assistant.accounts.service import AccountsService, Order, Payment, RefundStatus, money
from bnpl_assistant.act.replies import Voice
from bnpl_assistant.conversation import Reply

MAX_LINES = 10
_REFUND_KEYS = {"none": "refund_none", "waiting-for-shop": "refund_waiting", "confirmed": "refund_confirmed",
                "refunded": "refund_refunded", "cancelled": "refund_cancelled", "dispute-open": "refund_dispute"}


@dataclass(frozen=True)
class Scene:
    """A plan being carried out: the accounts service, the signed-in customer, and how replies are written."""

    service: AccountsService
    customer_id: str
    voice: Voice

    def method(self) -> str:
        """The customer's saved payment method, in words."""
        return self.voice.line(f"method_{self.service.customer(self.customer_id).payment_method}")


def orders(scene: Scene, action: str, listed: list[Order]) -> Reply:
    """The customer's orders (newest first) with their plan and state."""
    voice = scene.voice
    if not listed:
        return voice.act(voice.line("no_orders"), action, "account")
    lines = [voice.line("orders_intro", count=len(listed))]
    plans = voice.group("plans")
    for o in listed[:MAX_LINES]:
        plan = plans[o.plan] + (f" ({o.months})" if o.months else "")
        lines.append(voice.line("order_line", ordered=o.ordered_at.isoformat(), shop=o.shop, order=o.id,
                                items=", ".join(o.items), amount=o.amount, plan=plan,
                                state=_state(voice, o)))
    if len(listed) > MAX_LINES:
        lines.append(voice.line("schedule_more", count=len(listed) - MAX_LINES))
    return voice.act("\n".join(lines), action, "account")


def account_schedule(scene: Scene, action: str, listed: list[Order]) -> Reply:
    """The next payment (``next_payment``) or every open payment of the account, overdue ones included."""
    voice, service, cid = scene.voice, scene.service, scene.customer_id
    overdue = service.overdue_payments(cid)
    if action == "next_payment":
        nxt = service.next_payment(cid)
        parts = [_payment_line(voice, "next_payment", nxt) if nxt else voice.line("next_none")]
        parts += [_payment_line(voice, "overdue", p) for p in overdue]
        return voice.act(" ".join(parts), action, "account")
    schedule = service.payment_schedule(cid)
    if not schedule:
        return voice.act(voice.line("schedule_none"), action, "account")
    lines = [voice.line("schedule_intro")]
    lines += [_schedule_line(voice, p) for p in schedule[:MAX_LINES]]
    if len(schedule) > MAX_LINES:
        lines.append(voice.line("schedule_more", count=len(schedule) - MAX_LINES))
    return voice.act("\n".join(lines), action, "account")


def order_schedule(scene: Scene, action: str, order: Order) -> Reply:
    """The next payment (``next_payment``) or every instalment of one order."""
    voice, service = scene.voice, scene.service
    payments = service.payment_schedule(scene.customer_id, order.id)
    if action == "next_payment":
        upcoming = [p for p in payments if p.status == "due" and p.due_date >= service.today]
        failed = [p for p in payments if p.status == "failed"]
        parts = [_payment_line(voice, "next_payment", upcoming[0]) if upcoming else voice.line("next_none")]
        parts += [_payment_line(voice, "overdue", p) for p in failed]
        return voice.act(" ".join(parts), action, "account")
    plans = voice.group("plans")
    lines = [voice.line("schedule_order_intro", shop=order.shop, order=order.id, amount=order.amount,
                        plan=plans[order.plan])]
    lines += [_schedule_line(voice, p, with_paid=True) for p in payments[:MAX_LINES + 2]]
    if len(payments) > MAX_LINES + 2:
        lines.append(voice.line("schedule_more", count=len(payments) - MAX_LINES - 2))
    return voice.act("\n".join(lines), "payment_schedule", "account")


def refund(scene: Scene, action: str, order: Order) -> Reply:
    """Where the money of a returned, cancelled or disputed order stands."""
    voice = scene.voice
    status: RefundStatus = scene.service.refund_status(scene.customer_id, order.id)
    key = _REFUND_KEYS[status.state]
    if status.state in ("confirmed", "refunded", "cancelled") and status.paid_cents == 0:
        key += "_unpaid"  # nothing was collected, so no money goes back
    values = {"shop": order.shop, "order": order.id, "amount": order.amount,
              "refund": money(status.refund_cents), "paid": money(status.paid_cents),
              "method": voice.line(f"method_{status.payment_method}"),
              "since": _iso(status.since), "until": _iso(status.expected_by),
              "start": _iso(status.expected_from), "end": _iso(status.expected_by)}
    return voice.act(voice.line(key, **values), action, "account")


def _state(voice: Voice, o: Order) -> str:
    """Where an order stands, in a few words (the first that applies)."""
    failed = [i for i in o.instalments if i.status == "failed"]
    nxt = o.next_instalment
    values: dict[str, str] = {}
    if o.status == "cancelled":
        key = "state_cancelled"
    elif o.return_status in ("confirmed", "refunded"):
        key = "state_refunded"
    elif failed:
        key, values = "state_overdue", {"amount": failed[0].amount, "date": failed[0].due_date.isoformat()}
    elif o.return_status == "reported" and o.return_pause_until:
        key, values = "state_return", {"date": o.return_pause_until.isoformat()}
    elif o.dispute_status == "open":
        key = "state_dispute"
    elif nxt is None:
        key = "state_paid"
    else:
        key, values = "state_next", {"amount": nxt.amount, "date": nxt.due_date.isoformat()}
    return voice.line(key, **values)


def _payment_line(voice: Voice, key: str, p: Payment) -> str:
    return voice.line(key, amount=p.amount, date=p.due_date.isoformat(), shop=p.shop, order=p.order_id,
                      seq=p.seq, of=p.of)


def _schedule_line(voice: Voice, p: Payment, with_paid: bool = False) -> str:
    status = ""
    if p.status == "failed":
        status = voice.line("status_failed")
    elif p.status == "paused":
        status = (voice.line("status_paused_until", date=p.paused_until.isoformat())
                  if p.paused_until else voice.line("status_paused"))
    elif with_paid and p.status in ("paid", "cancelled"):
        status = voice.line(f"status_{p.status}")
    return voice.line("schedule_line", date=p.due_date.isoformat(), amount=p.amount, shop=p.shop,
                      order=p.order_id, status=status)


def _iso(value: date | None) -> str:
    return value.isoformat() if value else ""
