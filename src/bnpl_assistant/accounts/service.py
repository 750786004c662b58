"""The accounts service: the only module that reads or writes the account tables.

Every action takes the signed-in customer's id (from the session, never from message text) first. An
order that belongs to someone else and an order that does not exist raise the same :class:`OrderNotFound`
with the same message, so a refusal reveals nothing. Policy limits come from the company facts sheet
(``docs/company-facts.md``). Every write runs in one transaction together with its audit row, and a
repeated identical write (a double submit) changes nothing and returns the first result with
``changed=False``. Writes accept ``dry_run=True``: all checks, the would-be result, no write.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from bnpl_assistant.errors import AccountError
from bnpl_assistant.redact import redact
from bnpl_assistant.storage import Connection, Database

log = logging.getLogger(__name__)

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
        super().__init__("Please sign in to your Hallon account first.")


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


class AccountsService:
    """Reads and changes the signed-in customer's orders and payment plans."""

    def __init__(self, database: Database, today: date | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        """Args:
            database: the opened database (see :func:`bnpl_assistant.storage.open_database`).
            today: the business day; default the seeded ``meta.demo_today`` if present, else the real date.
            clock: timestamps for the audit trail (default: now, UTC).
        """
        self.database = database
        self._clock = clock or (lambda: datetime.now(UTC))
        if today is None:
            with database.session() as conn:
                row = conn.execute("SELECT value FROM meta WHERE key = 'demo_today'").fetchone()
            today = date.fromisoformat(row[0]) if row else date.today()
        self.today = today

    # -- reads -----------------------------------------------------------------------------------------

    def customer(self, customer_id: str | None) -> Customer:
        with self.database.session() as conn:
            return self._customer(conn, customer_id)

    def list_customers(self) -> list[Customer]:
        """Every demo customer, for the page's "sign in as demo customer" picker (not an account action)."""
        with self.database.session() as conn:
            rows = conn.execute("SELECT id, name, language, payment_method FROM customers ORDER BY id").fetchall()
        return [Customer(r["id"], r["name"], r["language"], r["payment_method"]) for r in rows]

    def list_orders(self, customer_id: str | None) -> list[Order]:
        """The customer's orders, newest first."""
        with self.database.session() as conn:
            self._customer(conn, customer_id)
            return self._orders(conn, customer_id)

    def get_order(self, customer_id: str | None, order_id: str) -> Order:
        """One of the customer's orders. Raises :class:`OrderNotFound` for any other id."""
        with self.database.session() as conn:
            return self._order(conn, customer_id, order_id)

    def payment_schedule(self, customer_id: str | None, order_id: str | None = None) -> list[Payment]:
        """Open instalments (due, failed, paused) of all orders by date; with ``order_id``, every instalment
        of that order (paid ones included)."""
        with self.database.session() as conn:
            if order_id is not None:
                orders = [self._order(conn, customer_id, order_id)]
            else:
                self._customer(conn, customer_id)
                orders = self._orders(conn, customer_id)
        out = [Payment(o.id, o.shop, o.plan, i.seq, len(o.instalments), i.due_date, i.amount_cents, i.status,
                       i.paused_until)
               for o in orders for i in o.instalments if order_id is not None or i.status in OPEN_STATUSES]
        return sorted(out, key=lambda p: (p.due_date, p.order_id, p.seq))

    def next_payment(self, customer_id: str | None) -> Payment | None:
        """The next instalment that will be collected (status due, on or after today)."""
        schedule = self.payment_schedule(customer_id)
        upcoming = [p for p in schedule if p.status == "due" and p.due_date >= self.today]
        return upcoming[0] if upcoming else None

    def overdue_payments(self, customer_id: str | None) -> list[Payment]:
        """Instalments past their due date and not paid (failed collections)."""
        return [p for p in self.payment_schedule(customer_id)
                if p.status == "failed" or (p.status == "due" and p.due_date < self.today)]

    def find_orders(self, customer_id: str | None, shop: str | None = None,
                    amount: Decimal | float | str | None = None, date: date | None = None,
                    latest: bool = False) -> list[Order]:
        """The customer's orders matching every given slot, newest first.

        Args:
            shop: part of the shop name or of an item (case-insensitive).
            amount: the order amount or one instalment's amount, to the cent.
            date: the order date or one instalment's due date.
            latest: only the most recent of the matches.
        """
        orders = self.list_orders(customer_id)
        if shop:
            needle = shop.casefold().strip()
            orders = [o for o in orders if needle in o.shop.casefold()
                      or any(needle in item.casefold() for item in o.items)]
        if amount is not None:
            cents = to_cents(amount)
            orders = [o for o in orders if o.amount_cents == cents
                      or any(i.amount_cents == cents for i in o.instalments)]
        if date is not None:
            orders = [o for o in orders
                      if o.ordered_at == date or any(i.due_date == date for i in o.instalments)]
        return orders[:1] if latest else orders

    def refund_status(self, customer_id: str | None, order_id: str) -> RefundStatus:
        """Where the money of a returned, cancelled or disputed order stands."""
        with self.database.session() as conn:
            customer = self._customer(conn, customer_id)
            order = self._order(conn, customer_id, order_id)
            ret = conn.execute("SELECT * FROM returns WHERE order_id = ?", (order.id,)).fetchone()
        method = customer.payment_method
        low, high = REFUND_BUSINESS_DAYS[method]
        base = RefundStatus(order, "none", method, paid_cents=order.paid_cents)
        if order.status == "cancelled":
            return replace(base, state="cancelled", refund_cents=order.paid_cents)
        if ret is not None:
            if ret["status"] == "reported":
                return replace(base, state="waiting-for-shop", since=_d(ret["reported_at"]),
                               expected_by=_d(ret["pause_until"]))
            at = _d(ret["refunded_at"]) or self.today
            return replace(base, state=ret["status"], refund_cents=int(ret["refund_cents"] or 0), since=at,
                           expected_from=add_business_days(at, low), expected_by=add_business_days(at, high))
        if order.dispute_status == "open":
            return replace(base, state="dispute-open")
        return base

    def eligible(self, action: str, order: Order) -> bool:
        """Whether ``action`` can be done on ``order`` today under the policy (reads nothing). The writes check
        this first: an order that is not eligible gets the policy's refusal, or the earlier result of the same
        write. ``refund_status``: the order has a return, a cancellation or an open dispute to report on."""
        if action == "report_return":
            return order.status != "cancelled" and order.return_status is None
        if action == "extend_due_date":
            nxt = order.next_instalment
            return (order.plan != "financing" and order.extension_days is None and nxt is not None
                    and nxt.status == "due" and nxt.due_date > self.today)
        if action == "retry_failed_payment":
            return any(i.status == "failed" for i in order.instalments)
        if action == "open_dispute":
            return (order.status != "cancelled" and order.return_status not in ("confirmed", "refunded")
                    and order.dispute_status != "open"
                    and self.today <= order.ordered_at + timedelta(days=DISPUTE_WINDOW_DAYS))
        if action == "refund_status":
            return order.return_status is not None or order.status == "cancelled" or order.dispute_status == "open"
        return True

    # -- writes ----------------------------------------------------------------------------------------

    def report_return(self, customer_id: str | None, order_id: str, dry_run: bool = False) -> ActionResult:
        """Record that the parcel went back: the order's open instalments pause for 21 days."""
        with self.database.write() as conn:
            order = self._order(conn, customer_id, order_id)
            if not self.eligible("report_return", order):
                if order.status == "cancelled":
                    raise PolicyRefused("cancelled",
                                        "This order was cancelled by the shop, so there is nothing to "
                                        "return: the plan is cancelled and anything paid is refunded.")
                ret = conn.execute("SELECT * FROM returns WHERE order_id = ?", (order.id,)).fetchone()
                if ret is not None:
                    paused = [i for i in order.instalments if i.status == "paused"]
                    return ActionResult("report_return", order, False, {
                        "pause_until": ret["pause_until"], "return_status": ret["status"],
                        "paused": _lines(paused), "reported_at": ret["reported_at"]}, repeated=True)
            until = self.today + timedelta(days=RETURN_PAUSE_DAYS)
            to_pause = [i for i in order.instalments if i.status in ("due", "failed")]
            details = {"pause_until": until.isoformat(), "return_status": "reported",
                       "paused": _lines(to_pause),
                       "reported_at": self.today.isoformat()}
            if dry_run:
                return ActionResult("report_return", order, False, details)
            conn.execute("UPDATE instalments SET paused_from = status, status = 'paused', paused_until = ? "
                         "WHERE plan_id = ? AND status IN ('due', 'failed')",
                         (until.isoformat(), order.plan_id))
            conn.execute("INSERT INTO returns (id, order_id, reported_at, pause_until, status) "
                         "VALUES (?, ?, ?, ?, 'reported')", ("ret-" + order.id.removeprefix("ord-"), order.id,
                                                             self.today.isoformat(), until.isoformat()))
            return self._audited(conn, customer_id, "report_return", order, details)

    def extend_due_date(self, customer_id: str | None, order_id: str, days: int,
                        dry_run: bool = False) -> ActionResult:
        """Move the order's next due date by 10 days (free) or 30 days (1.95 EUR), once per order, before
        the due date, not for financing. Later instalments of a Pay in 4 plan move with it."""
        if days not in EXTENSION_FEES:
            raise PolicyRefused("days", "A due date can be moved by 10 days (free) or by 30 days (1.95 EUR).")
        with self.database.write() as conn:
            order = self._order(conn, customer_id, order_id)
            nxt = order.next_instalment
            if nxt is None or not self.eligible("extend_due_date", order):  # (eligible implies a next payment)
                if order.plan == "financing":
                    raise PolicyRefused("financing", "Due dates of financing plans cannot be extended.")
                if order.extension_days is not None:
                    if order.extension_days == days:
                        previous = self._last_result(conn, order.id, "extend_due_date")
                        if previous is not None:
                            return ActionResult("extend_due_date", order, False, previous, repeated=True)
                    raise PolicyRefused("already-extended",
                                        "The due date of this order has already been extended "
                                        "once; each order can be extended only once.")
                if nxt is None:
                    raise PolicyRefused("nothing-due", "There is nothing left to pay on this order.")
                if nxt.status == "paused":
                    raise PolicyRefused("paused",
                                        "Payments for this order are paused at the moment, so there is no "
                                        "due date to move.")
                if nxt.status == "failed" or nxt.due_date <= self.today:
                    raise PolicyRefused("overdue", "A due date can only be extended before it is reached; "
                                        "this payment is already due.", due_date=nxt.due_date.isoformat())
            fee = EXTENSION_FEES[days]
            moved = [i for i in order.instalments if i.status == "due" and i.due_date >= nxt.due_date]
            details = {"days": days, "fee_cents": fee, "fee": money(fee), "old_due": nxt.due_date.isoformat(),
                       "new_due": (nxt.due_date + timedelta(days=days)).isoformat(),
                       "amount": money(nxt.amount_cents + fee), "moved": len(moved)}
            if dry_run:
                return ActionResult("extend_due_date", order, False, details)
            for inst in moved:
                conn.execute("UPDATE instalments SET due_date = ?, amount_cents = amount_cents + ? "
                             "WHERE plan_id = ? AND seq = ?",
                             ((inst.due_date + timedelta(days=days)).isoformat(),
                              fee if inst.seq == nxt.seq else 0,
                              order.plan_id, inst.seq))
            conn.execute("UPDATE plans SET extension_days = ?, extension_fee_cents = ? WHERE order_id = ?",
                         (days, fee, order.id))
            return self._audited(conn, customer_id, "extend_due_date", order, details)

    def retry_failed_payment(self, customer_id: str | None, order_id: str,
                             dry_run: bool = False) -> ActionResult:
        """Collect the order's failed instalments now from the saved payment method."""
        with self.database.write() as conn:
            order = self._order(conn, customer_id, order_id)
            failed = [i for i in order.instalments if i.status == "failed"]
            if not self.eligible("retry_failed_payment", order):
                previous = self._last_result(conn, order.id, "retry_failed_payment")
                if previous is not None:
                    return ActionResult("retry_failed_payment", order, False, previous, repeated=True)
                if any(i.status == "paused" for i in order.instalments):
                    raise PolicyRefused("paused", "Payments for this order are paused at the moment; nothing "
                                        "will be collected until the pause ends.")
                raise PolicyRefused("no-failed-payment", "There is no failed payment on this order.")
            total = sum(i.amount_cents for i in failed)
            details = {"retried": _lines(failed), "total": money(total), "result": "paid",
                       "paid_at": self.today.isoformat()}
            if dry_run:
                return ActionResult("retry_failed_payment", order, False, details)
            conn.execute("UPDATE instalments SET status = 'paid', paid_at = ?, attempts = attempts + 1 "
                         "WHERE plan_id = ? AND status = 'failed'", (self.today.isoformat(), order.plan_id))
            if not any(i.status in ("due", "paused") for i in order.instalments):
                conn.execute("UPDATE plans SET status = 'paid' WHERE order_id = ?", (order.id,))
            return self._audited(conn, customer_id, "retry_failed_payment", order, details)

    def open_dispute(self, customer_id: str | None, order_id: str, reason: str,
                     dry_run: bool = False) -> ActionResult:
        """Open a dispute (within 180 days of the purchase); the order's payments pause while it is open."""
        with self.database.write() as conn:
            order = self._order(conn, customer_id, order_id)
            existing = conn.execute("SELECT * FROM disputes WHERE order_id = ? AND status = 'open'",
                                    (order.id,)).fetchone()
            if existing is not None:
                opened = _d(existing["opened_at"]) or self.today
                return ActionResult("open_dispute", order, False, {
                    "opened_at": opened.isoformat(), "reason": existing["reason"],
                    "decision_by": (opened + timedelta(days=DISPUTE_DECISION_DAYS)).isoformat(),
                    "paused": _lines([i for i in order.instalments if i.status == "paused"])}, repeated=True)
            if not self.eligible("open_dispute", order):
                if order.status == "cancelled" or order.return_status in ("confirmed", "refunded"):
                    raise PolicyRefused("refunded",
                                        "This order has already been cancelled or refunded, so there is "
                                        "nothing to dispute.")
                deadline = order.ordered_at + timedelta(days=DISPUTE_WINDOW_DAYS)
                if self.today > deadline:
                    raise PolicyRefused("too-late",
                                        "A dispute can be opened within 180 days of the purchase; that "
                                        "time has passed for this order.", deadline=deadline.isoformat())
            to_pause = [i for i in order.instalments if i.status in OPEN_STATUSES]
            clean = redact(" ".join(reason.split()))[:500] or "not given"
            details = {"opened_at": self.today.isoformat(), "reason": clean,
                       "decision_by": (self.today + timedelta(days=DISPUTE_DECISION_DAYS)).isoformat(),
                       "paused": _lines(to_pause)}
            if dry_run:
                return ActionResult("open_dispute", order, False, details)
            conn.execute("UPDATE instalments SET paused_from = CASE WHEN status = 'paused' THEN paused_from "
                         "ELSE status END, status = 'paused', paused_until = NULL "
                         "WHERE plan_id = ? AND status IN ('due', 'failed', 'paused')", (order.plan_id,))
            n = conn.execute("SELECT COUNT(*) FROM disputes WHERE order_id = ?", (order.id,)).fetchone()[0]
            conn.execute("INSERT INTO disputes (id, order_id, opened_at, reason, status) "
                         "VALUES (?, ?, ?, ?, 'open')",
                         (f"dsp-{order.id.removeprefix('ord-')}-{n + 1}", order.id, self.today.isoformat(),
                          clean))
            return self._audited(conn, customer_id, "open_dispute", order, details)

    def audit_trail(self, order_id: str) -> list[dict[str, Any]]:
        """The audit rows of one order, oldest first (for agents and tests; not a customer action)."""
        with self.database.session() as conn:
            rows = conn.execute("SELECT * FROM audit WHERE entity = ? ORDER BY id", (order_id,)).fetchall()
        return [{**dict(r), "before": json.loads(r["before"]), "after": json.loads(r["after"])} for r in rows]

    # -- internals -------------------------------------------------------------------------------------

    def _audited(self, conn: Connection, customer_id: str | None, action: str, before: Order,
                 details: dict[str, Any]) -> ActionResult:
        after = self._order(conn, customer_id, before.id)
        conn.execute("INSERT INTO audit (at, actor, action, entity, before, after) VALUES (?, ?, ?, ?, ?, ?)",
                     (self._clock().isoformat(timespec="seconds"), customer_id, action, before.id,
                      json.dumps(_state(before), sort_keys=True),
                      json.dumps({"state": _state(after), "result": details}, sort_keys=True)))
        log.info("account action %s on %s by %s", action, before.id, customer_id)
        return ActionResult(action, after, True, details)

    @staticmethod
    def _last_result(conn: Connection, order_id: str, action: str) -> dict[str, Any] | None:
        row = conn.execute("SELECT after FROM audit WHERE entity = ? AND action = ? ORDER BY id DESC LIMIT 1",
                           (order_id, action)).fetchone()
        return dict(json.loads(row[0])["result"]) if row else None

    @staticmethod
    def _customer(conn: Connection, customer_id: str | None) -> Customer:
        if not customer_id:
            raise NotSignedIn()
        row = conn.execute("SELECT id, name, language, payment_method FROM customers WHERE id = ?",
                           (customer_id,)).fetchone()
        if row is None:
            raise NotSignedIn()
        return Customer(row["id"], row["name"], row["language"], row["payment_method"])

    def _order(self, conn: Connection, customer_id: str | None, order_id: str) -> Order:
        self._customer(conn, customer_id)
        oid = (order_id or "").strip().lower()
        found = self._orders(conn, customer_id, oid)
        if not found:
            raise OrderNotFound()
        return found[0]

    @staticmethod
    def _orders(conn: Connection, customer_id: str | None,
                order_id: str | None = None) -> list[Order]:
        sql = ("SELECT o.*, p.id AS plan_id, p.kind, p.months, p.status AS plan_status, p.extension_days, "
               "r.status AS return_status, r.pause_until, "
               "(SELECT status FROM disputes d WHERE d.order_id = o.id ORDER BY d.opened_at DESC, d.id DESC "
               " LIMIT 1) AS dispute_status "
               "FROM orders o JOIN plans p ON p.order_id = o.id LEFT JOIN returns r ON r.order_id = o.id "
               "WHERE o.customer_id = ?")
        args: tuple[Any, ...] = (customer_id,)
        if order_id is not None:
            sql += " AND o.id = ?"
            args += (order_id,)
        rows = conn.execute(sql + " ORDER BY o.ordered_at DESC, o.id DESC", args).fetchall()
        if not rows:
            return []
        marks = ",".join("?" * len(rows))
        by_plan: dict[str, list[Instalment]] = {}
        for r in conn.execute(f"SELECT * FROM instalments WHERE plan_id IN ({marks}) ORDER BY plan_id, seq",
                              [row["plan_id"] for row in rows]):
            by_plan.setdefault(r["plan_id"], []).append(
                Instalment(r["seq"], date.fromisoformat(r["due_date"]), r["amount_cents"], r["status"],
                           _d(r["paused_until"])))
        return [Order(
            id=row["id"], shop=row["shop"], items=tuple(json.loads(row["items"])),
            amount_cents=row["amount_cents"],
            currency=row["currency"], status=row["status"], ordered_at=date.fromisoformat(row["ordered_at"]),
            shipped_at=_d(row["shipped_at"]), plan=row["kind"], plan_status=row["plan_status"],
            months=row["months"], extension_days=row["extension_days"],
            instalments=tuple(by_plan.get(row["plan_id"], [])), return_status=row["return_status"],
            return_pause_until=_d(row["pause_until"]), dispute_status=row["dispute_status"],
            plan_id=row["plan_id"]) for row in rows]


def _d(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _lines(instalments: list[Instalment]) -> list[dict[str, Any]]:
    return [{"seq": i.seq, "due_date": i.due_date.isoformat(), "amount": i.amount} for i in instalments]


def _state(order: Order) -> dict[str, Any]:
    """What an audit row records about an order before and after a change."""
    data = asdict(order)
    return json.loads(json.dumps({k: data[k] for k in ("id", "status", "plan_status", "extension_days",
                                                         "return_status", "dispute_status", "instalments")},
                                 default=str))
