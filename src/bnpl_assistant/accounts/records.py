"""The accounts domain's records, errors and policy figures: customers, orders with their instalments, payments,
the results of writes and refunds, and money in cents. Plain frozen values that the accounts service hands out;
they read nothing and write nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from bnpl_assistant.errors import AccountError

# Policy (company facts sheet).
RETURN_PAUSE_DAYS = 21
EXTENSION_FEES = {10: 0, 30: 195}  # days -> fee in cents
DISPUTE_WINDOW_DAYS = 180
DISPUTE_DECISION_DAYS = 21
REFUND_BUSINESS_DAYS = {"card": (3, 5), "bank": (5, 7)}
OPEN_STATUSES = ("due", "failed", "paused")

NOT_FOUND = "I can't find that order on your account."


class OrderNotFound(AccountError):
    """The order does not exist or is not the signed-in customer's (deliberately indistinguishable)."""

    def __init__(self) -> None:
        super().__init__(NOT_FOUND)


class NotSignedIn(AccountError):
    """No customer, or an unknown one, in the session."""

    def __init__(self) -> None:
        super().__init__("Please sign in to your account first.")


class PolicyRefused(AccountError):
    """The action is not possible under the company's policy; ``code`` names the rule."""

    def __init__(self, code: str, message: str, **facts: Any) -> None:
        super().__init__(message)
        self.code = code
        self.facts = facts


@dataclass(frozen=True)
class Instalment:
    seq: int
    due_date: date
    amount_cents: int
    status: str  # paid | due | failed | paused | cancelled
    paused_until: date | None = None

    @property
    def amount(self) -> str:
        return money(self.amount_cents)


@dataclass(frozen=True)
class Order:
    id: str
    shop: str
    items: tuple[str, ...]
    amount_cents: int
    currency: str
    status: str
    ordered_at: date
    shipped_at: date | None
    plan: str  # pay_in_4 | pay_in_30 | financing
    plan_status: str
    months: int | None
    extension_days: int | None
    instalments: tuple[Instalment, ...]
    return_status: str | None = None
    return_pause_until: date | None = None
    dispute_status: str | None = None
    plan_id: str = ""

    @property
    def amount(self) -> str:
        return money(self.amount_cents)

    @property
    def open_instalments(self) -> list[Instalment]:
        return [i for i in self.instalments if i.status in OPEN_STATUSES]

    @property
    def next_instalment(self) -> Instalment | None:
        return min(self.open_instalments, key=lambda i: (i.due_date, i.seq), default=None)

    @property
    def paid_cents(self) -> int:
        return sum(i.amount_cents for i in self.instalments if i.status == "paid")


@dataclass(frozen=True)
class Payment:
    """One instalment with its order, for schedules."""

    order_id: str
    shop: str
    plan: str
    seq: int
    of: int
    due_date: date
    amount_cents: int
    status: str
    paused_until: date | None = None

    @property
    def amount(self) -> str:
        return money(self.amount_cents)


@dataclass(frozen=True)
class Customer:
    id: str
    name: str
    language: str
    payment_method: str  # card | bank


@dataclass(frozen=True)
class ActionResult:
    """The outcome of a write. ``changed`` is False for a dry run and for a repeat (``repeated``)."""

    action: str
    order: Order
    changed: bool
    details: dict[str, Any] = field(default_factory=dict)
    repeated: bool = False  # the same write was done before; nothing changed now


@dataclass(frozen=True)
class RefundStatus:
    order: Order
    state: str  # none | waiting-for-shop | confirmed | refunded | cancelled | dispute-open
    payment_method: str
    refund_cents: int = 0
    paid_cents: int = 0
    since: date | None = None
    expected_from: date | None = None
    expected_by: date | None = None


def money(cents: int) -> str:
    """``8990`` -> ``"89.90"``."""
    return f"{cents // 100}.{cents % 100:02d}" if cents >= 0 else "-" + money(-cents)


def to_cents(amount: Decimal | float | int | str) -> int:
    """An amount in euro (``"89,90"``, ``89.9``) as cents."""
    try:
        value = Decimal(str(amount).replace(",", ".")).quantize(Decimal("0.01"))
    except InvalidOperation as exc:
        raise AccountError(f"'{amount}' is not an amount") from exc
    return int(value * 100)


def add_business_days(start: date, days: int) -> date:
    d = start
    while days > 0:
        d += timedelta(days=1)
        if d.weekday() < 5:
            days -= 1
    return d
