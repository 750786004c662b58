"""The read side of the accounts service: the signed-in customer's customer record, orders, payment schedule
and refund status from the account tables, and the policy's eligibility rules (``AccountReads.eligible``).

Every read takes the signed-in customer's id first; an order that belongs to someone else and one that does
not exist raise the same :class:`OrderNotFound`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from bnpl_assistant.accounts.records import (
    DISPUTE_WINDOW_DAYS,
    OPEN_STATUSES,
    REFUND_BUSINESS_DAYS,
    Customer,
    Instalment,
    NotSignedIn,
    Order,
    OrderNotFound,
    Payment,
    RefundStatus,
    add_business_days,
    to_cents,
)
from bnpl_assistant.storage import Connection, Database


class AccountReads:
    """Reads the signed-in customer's orders and payment plans, and says which actions the policy allows.

    The writes are :class:`~bnpl_assistant.accounts.service.AccountsService`'s, which builds on this.
    """

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
                return replace(base, state="waiting-for-shop", since=stored_date(ret["reported_at"]),
                               expected_by=stored_date(ret["pause_until"]))
            at = stored_date(ret["refunded_at"]) or self.today
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

    # -- internals -------------------------------------------------------------------------------------

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
                           stored_date(r["paused_until"])))
        return [Order(
            id=row["id"], shop=row["shop"], items=tuple(json.loads(row["items"])),
            amount_cents=row["amount_cents"],
            currency=row["currency"], status=row["status"], ordered_at=date.fromisoformat(row["ordered_at"]),
            shipped_at=stored_date(row["shipped_at"]), plan=row["kind"], plan_status=row["plan_status"],
            months=row["months"], extension_days=row["extension_days"],
            instalments=tuple(by_plan.get(row["plan_id"], [])), return_status=row["return_status"],
            return_pause_until=stored_date(row["pause_until"]), dispute_status=row["dispute_status"],
            plan_id=row["plan_id"]) for row in rows]


def stored_date(value: str | None) -> date | None:
    """A date as the account tables store it (ISO text, or NULL) as a ``date`` (or None)."""
    return date.fromisoformat(value) if value else None
