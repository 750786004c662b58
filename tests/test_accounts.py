"""The demo seed and the accounts service on a real SQLite file (migrations: test_storage.py)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from bnpl_assistant.accounts.seed import DEMO_TODAY, N_CUSTOMERS, ensure_demo, seed_demo
from bnpl_assistant.accounts.service import (
    NOT_FOUND,
    AccountsService,
    Order,
    OrderNotFound,
    PolicyRefused,
    money,
)
from bnpl_assistant.errors import AccountError
from bnpl_assistant.storage import OperationalError, Row, open_database, session
from conftest import DatabaseAt

pytestmark = pytest.mark.database  # every test here takes its database from `database_at`

TODAY = DEMO_TODAY


def customers() -> list[str]:
    return [f"cust-{i:03d}" for i in range(1, N_CUSTOMERS + 1)]


def find(svc: AccountsService, test: Callable[[Order], bool]) -> tuple[str, Order]:
    """The first (customer, order) of the seed that passes ``test``."""
    for cid in customers():
        for order in svc.list_orders(cid):
            if test(order):
                return cid, order
    raise AssertionError("the seed has no such order")


def rows(db: Path | str, sql: str, *args: object) -> list[Row]:
    with session(db) as conn:
        return conn.execute(sql, args).fetchall()


def snapshot(db: Path | str) -> list[tuple[object, ...]]:
    return [tuple(r) for r in rows(db, "SELECT plan_id, seq, due_date, amount_cents, status, paused_until "
                                       "FROM instalments ORDER BY plan_id, seq")]


def audit_count(db: Path | str, order_id: str | None = None) -> int:
    if order_id is None:
        return int(rows(db, "SELECT COUNT(*) FROM audit")[0][0])
    return int(rows(db, "SELECT COUNT(*) FROM audit WHERE entity = ?", order_id)[0][0])


def active_pay_in_4(o: Order) -> bool:
    nxt = o.next_instalment
    return (o.plan == "pay_in_4" and o.return_status is None and o.dispute_status != "open"
            and o.extension_days is None and nxt is not None and nxt.status == "due" and nxt.due_date > TODAY
            and any(i.status == "paid" for i in o.instalments))


# -- the demo seed -------------------------------------------------------------------------------------


def test_seed_counts_and_shape(db: Path | str) -> None:
    counts = seed_demo(open_database(db))  # second run: nothing added
    assert counts["customers"] == N_CUSTOMERS >= 50
    assert counts["orders"] == counts["plans"] >= N_CUSTOMERS
    assert counts["instalments_failed"] > 0 and counts["returns"] > 0 and counts["disputes"] > 0
    per_customer = rows(db, "SELECT customer_id, COUNT(*) FROM orders GROUP BY customer_id")
    assert len(per_customer) == N_CUSTOMERS and all(1 <= r[1] <= 5 for r in per_customer)
    kinds = {r[0] for r in rows(db, "SELECT DISTINCT kind FROM plans")}
    assert kinds == {"pay_in_4", "pay_in_30", "financing"}
    assert {r[0] for r in rows(db, "SELECT DISTINCT language FROM customers")} == {"en", "de"}
    assert all(r[0].endswith("@example.com") for r in rows(db, "SELECT email FROM customers"))
    assert rows(db, "SELECT MIN(id), MAX(id) FROM customers")[0][:] == ("cust-001", f"cust-{N_CUSTOMERS:03d}")
    assert rows(db, "SELECT MIN(id) FROM orders")[0][0] == "ord-10001"
    assert {r[0] for r in rows(db, "SELECT DISTINCT currency FROM orders")} == {"EUR"}
    statuses = {r[0] for r in rows(db, "SELECT DISTINCT status FROM instalments")}
    assert {"paid", "due", "failed", "paused"} <= statuses


def test_instalments_add_up_to_the_order(svc: AccountsService) -> None:
    for cid in customers()[:20]:
        for o in svc.list_orders(cid):
            total = sum(i.amount_cents for i in o.instalments)
            if o.plan == "pay_in_4":
                assert len(o.instalments) == 4 and total == o.amount_cents
                dates = [i.due_date for i in o.instalments]
                assert [(b - a).days for a, b in pairwise(dates)] == [14, 14, 14]
            elif o.plan == "pay_in_30":
                assert len(o.instalments) == 1 and total == o.amount_cents
            else:
                assert len(o.instalments) == o.months and total >= o.amount_cents


def test_seed_is_deterministic_and_idempotent(database_at: DatabaseAt) -> None:
    a, b = database_at("a"), database_at("b")
    seed_demo(open_database(a))
    seed_demo(open_database(b))
    seed_demo(open_database(b))
    dump = "SELECT * FROM instalments ORDER BY plan_id, seq"
    assert [tuple(r) for r in rows(a, dump)] == [tuple(r) for r in rows(b, dump)]
    assert [tuple(r) for r in rows(a, "SELECT * FROM customers ORDER BY id")] == \
        [tuple(r) for r in rows(b, "SELECT * FROM customers ORDER BY id")]


def test_reseeding_keeps_customer_changes_unless_reset(db: Path | str, svc: AccountsService) -> None:
    cid, order = find(svc, active_pay_in_4)
    svc.report_return(cid, order.id)
    seed_demo(open_database(db))
    assert svc.get_order(cid, order.id).return_status == "reported"
    seed_demo(open_database(db), reset=True)
    assert svc.get_order(cid, order.id).return_status is None
    assert audit_count(db) == 0


def test_ensure_demo_seeds_only_an_empty_database(tmp_path: Path, database_at: DatabaseAt) -> None:
    path = tmp_path / "fresh" / "bnpl.sqlite3"
    assert ensure_demo(open_database(path)) is True
    assert ensure_demo(open_database(path)) is False
    empty = open_database(database_at("empty"))
    assert ensure_demo(empty) is True


def test_service_uses_the_seeded_day(svc: AccountsService, db: Path | str) -> None:
    assert svc.today == TODAY
    assert AccountsService(open_database(db), today=date(2027, 1, 1)).today == date(2027, 1, 1)


# -- reads ---------------------------------------------------------------------------------------------


def test_list_orders_newest_first(svc: AccountsService) -> None:
    for cid in customers()[:10]:
        orders = svc.list_orders(cid)
        dates = [o.ordered_at for o in orders]
        assert orders and dates == sorted(dates, reverse=True)


def test_next_payment_is_the_earliest_due_instalment(svc: AccountsService) -> None:
    for cid in customers():
        due = [(i.due_date, o.id) for o in svc.list_orders(cid) for i in o.instalments
               if i.status == "due" and i.due_date >= TODAY]
        nxt = svc.next_payment(cid)
        if due:
            assert nxt is not None and (nxt.due_date, nxt.order_id) == min(due)
        else:
            assert nxt is None


def test_payment_schedule_lists_open_instalments_by_date(svc: AccountsService) -> None:
    cid, order = find(svc, lambda o: o.plan == "financing" and o.plan_status == "active")
    schedule = svc.payment_schedule(cid)
    assert schedule and all(p.status in ("due", "failed", "paused") for p in schedule)
    assert [p.due_date for p in schedule] == sorted(p.due_date for p in schedule)
    full = svc.payment_schedule(cid, order.id)
    assert len(full) == order.months and {p.order_id for p in full} == {order.id}


def test_find_orders_by_shop_amount_date_and_latest(svc: AccountsService) -> None:
    cid = next(c for c in customers() if len(svc.list_orders(c)) >= 3)
    orders = svc.list_orders(cid)
    target = orders[1]
    assert target in svc.find_orders(cid, shop=target.shop.split()[0].lower())
    assert target in svc.find_orders(cid, amount=target.amount)
    assert target in svc.find_orders(cid, amount=target.amount.replace(".", ","))
    assert target in svc.find_orders(cid, date=target.ordered_at)
    assert svc.find_orders(cid, latest=True) == [orders[0]]
    assert svc.find_orders(cid, shop="no such shop") == []


def test_refund_status_states(svc: AccountsService) -> None:
    cid, refunded = find(svc, lambda o: o.return_status == "refunded")
    status = svc.refund_status(cid, refunded.id)
    assert status.state == "refunded" and status.refund_cents == refunded.amount_cents
    assert status.expected_by is not None and status.since is not None and status.expected_by > status.since
    cid, waiting = find(svc, lambda o: o.return_status == "reported")
    assert svc.refund_status(cid, waiting.id).state == "waiting-for-shop"
    cid, plain = find(svc, lambda o: o.return_status is None and o.status != "cancelled"
                      and o.dispute_status != "open")
    assert svc.refund_status(cid, plain.id).state == "none"
    cid, cancelled = find(svc, lambda o: o.status == "cancelled")
    assert svc.refund_status(cid, cancelled.id).state == "cancelled"


# -- writes --------------------------------------------------------------------------------------------


def test_report_return_pauses_only_that_orders_open_instalments(svc: AccountsService, db: Path | str) -> None:
    cid, order = find(svc, active_pay_in_4)
    others_before = [o for o in svc.list_orders(cid) if o.id != order.id]
    result = svc.report_return(cid, order.id)
    assert result.changed and not result.repeated
    after = svc.get_order(cid, order.id)
    until = TODAY + timedelta(days=21)
    for old, new in zip(order.instalments, after.instalments, strict=True):
        if old.status == "due":
            assert new.status == "paused" and new.paused_until == until
        else:
            assert new == old  # paid ones untouched
    assert after.return_status == "reported"
    assert [o for o in svc.list_orders(cid) if o.id != order.id] == others_before
    trail = svc.audit_trail(order.id)
    assert len(trail) == 1 and trail[0]["actor"] == cid and trail[0]["action"] == "report_return"
    assert any(i["status"] == "due" for i in trail[0]["before"]["instalments"])
    assert trail[0]["after"]["state"]["return_status"] == "reported"


def test_repeated_return_is_idempotent(svc: AccountsService, db: Path | str) -> None:
    cid, order = find(svc, active_pay_in_4)
    first = svc.report_return(cid, order.id)
    before = snapshot(db)
    again = svc.report_return(cid, order.id)
    assert again.repeated and not again.changed
    assert again.details["pause_until"] == first.details["pause_until"]
    assert snapshot(db) == before and audit_count(db, order.id) == 1


def test_double_submit_from_two_threads_writes_once(svc: AccountsService, db: Path | str) -> None:
    cid, order = find(svc, active_pay_in_4)
    results = []
    threads = [threading.Thread(target=lambda: results.append(svc.report_return(cid, order.id)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.repeated for r in results) == [False, True]
    assert audit_count(db, order.id) == 1


def test_write_and_audit_share_one_transaction(svc: AccountsService, db: Path | str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    cid, order = find(svc, active_pay_in_4)
    before = snapshot(db)

    def broken_audit(*args: object, **kwargs: object) -> None:
        raise OperationalError("INSERT INTO audit", (), Exception("disk I/O error"))

    monkeypatch.setattr(svc, "_audited", broken_audit)
    with pytest.raises(OperationalError):
        svc.report_return(cid, order.id)
    assert snapshot(db) == before
    assert rows(db, "SELECT COUNT(*) FROM returns WHERE order_id = ?", order.id)[0][0] == 0


def test_dry_run_checks_without_writing(svc: AccountsService, db: Path | str) -> None:
    cid, order = find(svc, active_pay_in_4)
    before = snapshot(db)
    for call in (lambda: svc.report_return(cid, order.id, dry_run=True),
                 lambda: svc.extend_due_date(cid, order.id, 10, dry_run=True),
                 lambda: svc.open_dispute(cid, order.id, "broken", dry_run=True)):
        result = call()
        assert not result.changed and not result.repeated
    assert snapshot(db) == before and audit_count(db) == 0


def test_extend_by_10_days_is_free_and_moves_later_instalments(svc: AccountsService, db: Path | str) -> None:
    cid, order = find(svc, active_pay_in_4)
    nxt = order.next_instalment
    assert nxt is not None
    result = svc.extend_due_date(cid, order.id, 10)
    assert result.details["fee_cents"] == 0
    assert result.details["new_due"] == (nxt.due_date + timedelta(days=10)).isoformat()
    after = svc.get_order(cid, order.id)
    for old, new in zip(order.instalments, after.instalments, strict=True):
        shift = 10 if old.status == "due" else 0
        assert new.due_date == old.due_date + timedelta(days=shift) and new.amount_cents == old.amount_cents
    again = svc.extend_due_date(cid, order.id, 10)
    assert again.repeated and again.details["new_due"] == result.details["new_due"]
    assert audit_count(db, order.id) == 1
    with pytest.raises(PolicyRefused) as exc:
        svc.extend_due_date(cid, order.id, 30)
    assert exc.value.code == "already-extended"


def test_extend_by_30_days_adds_the_fee_once(svc: AccountsService) -> None:
    cid, order = find(svc, lambda o: o.plan == "pay_in_30" and o.plan_status == "active"
                      and o.extension_days is None and o.next_instalment is not None
                      and o.next_instalment.status == "due" and o.next_instalment.due_date > TODAY)
    result = svc.extend_due_date(cid, order.id, 30)
    after = svc.get_order(cid, order.id)
    assert result.details["fee"] == "1.95"
    assert after.instalments[0].amount_cents == order.amount_cents + 195
    assert after.instalments[0].due_date == order.instalments[0].due_date + timedelta(days=30)
    assert after.extension_days == 30


@pytest.mark.parametrize("days", [5, 14, 60])
def test_extension_only_by_10_or_30_days(svc: AccountsService, days: int) -> None:
    cid, order = find(svc, active_pay_in_4)
    with pytest.raises(PolicyRefused) as exc:
        svc.extend_due_date(cid, order.id, days)
    assert exc.value.code == "days"


def test_no_extension_for_financing_or_overdue_payments(svc: AccountsService) -> None:
    cid, financing = find(svc, lambda o: o.plan == "financing" and o.plan_status == "active")
    with pytest.raises(PolicyRefused) as exc:
        svc.extend_due_date(cid, financing.id, 10)
    assert exc.value.code == "financing"
    cid, failed = find(svc, lambda o: o.plan != "financing" and o.extension_days is None
                       and o.next_instalment is not None and o.next_instalment.status == "failed")
    with pytest.raises(PolicyRefused) as exc:
        svc.extend_due_date(cid, failed.id, 10)
    assert exc.value.code == "overdue"


def test_retry_failed_payment_collects_and_is_idempotent(svc: AccountsService, db: Path | str) -> None:
    cid, order = find(svc, lambda o: any(i.status == "failed" for i in o.instalments))
    failed = [i for i in order.instalments if i.status == "failed"]
    result = svc.retry_failed_payment(cid, order.id)
    assert result.changed and result.details["total"] == money(sum(i.amount_cents for i in failed))
    after = svc.get_order(cid, order.id)
    assert all(after.instalments[i.seq - 1].status == "paid" for i in failed)
    again = svc.retry_failed_payment(cid, order.id)
    assert again.repeated and again.details == result.details
    assert audit_count(db, order.id) == 1


def test_retry_without_a_failed_payment_is_refused(svc: AccountsService) -> None:
    cid, order = find(svc, active_pay_in_4)
    with pytest.raises(PolicyRefused) as exc:
        svc.retry_failed_payment(cid, order.id)
    assert exc.value.code == "no-failed-payment"


def test_dispute_pauses_the_orders_payments_until_decided(svc: AccountsService, db: Path | str) -> None:
    cid, order = find(svc, active_pay_in_4)
    result = svc.open_dispute(cid, order.id, "Broken on arrival, card 4111 1111 1111 1111")
    assert "[CARD]" in result.details["reason"] and "4111" not in result.details["reason"]
    after = svc.get_order(cid, order.id)
    assert after.dispute_status == "open"
    unpaid = [i for i in after.instalments if i.status != "paid"]
    assert unpaid and all(i.status == "paused" and i.paused_until is None for i in unpaid)
    assert result.details["decision_by"] == (TODAY + timedelta(days=21)).isoformat()
    again = svc.open_dispute(cid, order.id, "again")
    assert again.repeated and audit_count(db, order.id) == 1
    with pytest.raises(PolicyRefused) as exc:
        svc.extend_due_date(cid, order.id, 10)
    assert exc.value.code == "paused"


def test_dispute_only_within_180_days(svc: AccountsService) -> None:
    cid, old = find(svc, lambda o: o.ordered_at < TODAY - timedelta(days=180) and o.status != "cancelled"
                    and o.return_status is None)
    with pytest.raises(PolicyRefused) as exc:
        svc.open_dispute(cid, old.id, "too late")
    assert exc.value.code == "too-late"


def test_return_of_a_cancelled_order_is_refused(svc: AccountsService) -> None:
    cid, order = find(svc, lambda o: o.status == "cancelled")
    with pytest.raises(PolicyRefused):
        svc.report_return(cid, order.id)


# -- authorisation ---------------------------------------------------------------------------------------

ACTIONS: dict[str, Callable[[AccountsService, str, str], object]] = {
    "get_order": lambda s, c, o: s.get_order(c, o),
    "payment_schedule": lambda s, c, o: s.payment_schedule(c, o),
    "report_return": lambda s, c, o: s.report_return(c, o),
    "extend_due_date": lambda s, c, o: s.extend_due_date(c, o, 10),
    "retry_failed_payment": lambda s, c, o: s.retry_failed_payment(c, o),
    "open_dispute": lambda s, c, o: s.open_dispute(c, o, "not mine"),
    "refund_status": lambda s, c, o: s.refund_status(c, o),
}


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_other_customers_and_unknown_orders_get_the_same_refusal(svc: AccountsService, db: Path | str,
                                                                 action: str) -> None:
    victim_order = svc.list_orders("cust-002")[0].id
    before = snapshot(db)
    messages = []
    for order_id in (victim_order, "ord-99999", "ORD-10001'--", ""):
        with pytest.raises(OrderNotFound) as exc:
            ACTIONS[action](svc, "cust-001", order_id)
        messages.append(str(exc.value))
    assert set(messages) == {NOT_FOUND}
    assert snapshot(db) == before and audit_count(db) == 0


@pytest.mark.parametrize("customer", [None, "", "cust-999", "cust-001' OR '1'='1"])
def test_unknown_or_missing_customer_is_refused(svc: AccountsService, customer: str | None) -> None:
    with pytest.raises(AccountError):
        svc.list_orders(customer)
    with pytest.raises(AccountError):
        svc.report_return(customer, "ord-10001")


def test_audit_rows_are_json(svc: AccountsService, db: Path | str) -> None:
    cid, order = find(svc, active_pay_in_4)
    svc.report_return(cid, order.id)
    row = rows(db, "SELECT at, actor, action, entity, before, after FROM audit")[0]
    assert row["actor"] == cid and row["entity"] == order.id and row["at"]
    assert json.loads(row["before"])["id"] == order.id
