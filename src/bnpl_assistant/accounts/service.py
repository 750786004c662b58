"""The accounts service: with :mod:`~bnpl_assistant.accounts.reads`, the only code that reads or writes the
account tables.

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
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from bnpl_assistant.accounts.reads import AccountReads, stored_date
from bnpl_assistant.accounts.records import (
    DISPUTE_DECISION_DAYS,
    DISPUTE_WINDOW_DAYS,
    EXTENSION_FEES,
    NOT_FOUND,
    OPEN_STATUSES,
    REFUND_BUSINESS_DAYS,
    RETURN_PAUSE_DAYS,
    ActionResult,
    Customer,
    Instalment,
    NotSignedIn,
    Order,
    OrderNotFound,
    Payment,
    PolicyRefused,
    RefundStatus,
    add_business_days,
    money,
    to_cents,
)
from bnpl_assistant.redact import redact
from bnpl_assistant.storage import Connection

# The records, errors and policy figures are imported from here too (``from ...accounts.service import Order``).
__all__ = [
    "DISPUTE_DECISION_DAYS",
    "DISPUTE_WINDOW_DAYS",
    "EXTENSION_FEES",
    "NOT_FOUND",
    "OPEN_STATUSES",
    "REFUND_BUSINESS_DAYS",
    "RETURN_PAUSE_DAYS",
    "AccountsService",
    "ActionResult",
    "Customer",
    "Instalment",
    "NotSignedIn",
    "Order",
    "OrderNotFound",
    "Payment",
    "PolicyRefused",
    "RefundStatus",
    "add_business_days",
    "money",
    "to_cents",
]

log = logging.getLogger(__name__)


class AccountsService(AccountReads):
    """Reads and changes the signed-in customer's orders and payment plans."""

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
                opened = stored_date(existing["opened_at"]) or self.today
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



def _lines(instalments: list[Instalment]) -> list[dict[str, Any]]:
    return [{"seq": i.seq, "due_date": i.due_date.isoformat(), "amount": i.amount} for i in instalments]


def _state(order: Order) -> dict[str, Any]:
    """What an audit row records about an order before and after a change."""
    data = asdict(order)
    return json.loads(json.dumps({k: data[k] for k in ("id", "status", "plan_status", "extension_days",
                                                         "return_status", "dispute_status", "instalments")},
                                 default=str))
