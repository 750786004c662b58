"""Fictional demo accounts: customers, orders, payment plans with instalments, returns, disputes.

Deterministic (fixed seed, dates relative to a fixed ``today``) and idempotent: every row has a stable
key and is inserted with ``ON CONFLICT DO NOTHING``, so seeding again adds nothing and keeps changes customers
made since (a reported return stays reported). ``reset=True`` starts the accounts over.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from bnpl_assistant.storage import Connection, Database, transaction

DEMO_TODAY = date(2026, 11, 20)
SEED = 20261120
N_CUSTOMERS = 60
RETURN_PAUSE_DAYS = 21

ACCOUNT_TABLES = ("disputes", "returns", "instalments", "plans", "orders", "customers", "audit")

# Fictional shops: name, price range in EUR, items (en, de).
SHOPS: list[tuple[str, tuple[int, int], list[tuple[str, str]]]] = [
    ("Northwind Shoes", (35, 220), [
        ("trail running shoes", "Trailrunning-Schuhe"), ("leather boots", "Lederstiefel"),
        ("sneakers", "Sneaker"), ("sandals", "Sandalen")]),
    ("Lumen Lighting", (30, 320), [
        ("floor lamp", "Stehlampe"), ("desk lamp", "Schreibtischlampe"), ("pendant light", "Pendelleuchte")]),
    ("Pixel Outpost", (60, 2400), [
        ("wireless headphones", "Kabellose Kopfhörer"), ("laptop", "Laptop"), ("smartwatch", "Smartwatch"),
        ("tablet", "Tablet"), ("monitor", "Monitor")]),
    ("Fjord Sofa Studio", (150, 3200), [
        ("corner sofa", "Ecksofa"), ("armchair", "Sessel"), ("dining table", "Esstisch"),
        ("bookshelf", "Bücherregal")]),
    ("Kite & Crane Toys", (15, 150), [
        ("building blocks set", "Bausteine-Set"), ("wooden train set", "Holzeisenbahn"),
        ("board game", "Brettspiel")]),
    ("Velo Werk Bikes", (40, 4200), [
        ("e-bike", "E-Bike"), ("city bike", "Stadtrad"), ("bike helmet", "Fahrradhelm")]),
    ("Green Fork Kitchen", (40, 900), [
        ("espresso machine", "Siebträgermaschine"), ("cookware set", "Topfset"),
        ("stand mixer", "Küchenmaschine")]),
    ("Atlas Outdoor", (30, 450), [
        ("hiking backpack", "Wanderrucksack"), ("tent", "Zelt"), ("rain jacket", "Regenjacke")]),
    ("Marlow Fashion", (20, 350), [
        ("wool coat", "Wollmantel"), ("jeans", "Jeans"), ("summer dress", "Sommerkleid")]),
    ("Nordlicht Books", (12, 180), [("book bundle", "Bücherpaket"), ("e-reader", "E-Reader")]),
    ("Sonnenhof Garden", (25, 1200), [
        ("garden furniture set", "Gartenmöbel-Set"), ("lawn mower", "Rasenmäher"),
        ("planters", "Pflanzkübel")]),
    ("Brightsmile Beauty", (15, 160), [("skincare set", "Hautpflege-Set"), ("hair dryer", "Haartrockner")]),
]

FIRST_EN = ["Olivia", "Liam", "Emma", "Noah", "Ava", "Oliver", "Sophia", "Elijah", "Mia", "James", "Amelia",
            "Lucas", "Harper", "Mason", "Evelyn", "Logan", "Aoife", "Sean", "Chloe", "Finn", "Isla", "Leo"]
LAST_EN = ["Carter", "Hughes", "Murphy", "Bennett", "Walsh", "Doyle", "Fletcher", "Morgan", "Hayes", "Quinn",
           "Reid", "Shaw", "Ellison", "Marsh", "Keane", "Parr"]
FIRST_DE = ["Lena", "Jonas", "Hannah", "Felix", "Emilia", "Lukas", "Marie", "Leon", "Sophie", "Ben", "Clara",
            "Elias", "Johanna", "Moritz", "Greta", "Anton"]
LAST_DE = ["Becker", "Wagner", "Hoffmann", "Schäfer", "Koch", "Richter", "Klein", "Wolf", "Neumann",
           "Schwarz", "Zimmermann", "Krüger", "Hartmann", "Lange", "Werner", "Brandt"]
DISPUTE_REASONS = ["item not received", "item arrived damaged", "wrong item delivered", "shop not answering"]
APRS = [0.0, 0.0, 9.9, 14.9, 19.9]
MONTHS = [6, 12, 18, 24, 36]


@dataclass
class _Inst:
    seq: int
    due: date
    cents: int
    status: str = "due"
    paid_at: date | None = None
    attempts: int = 0
    paused_until: date | None = None
    paused_from: str | None = None


@dataclass
class _Order:
    num: int
    customer_id: str
    shop: str
    items: list[str]
    cents: int
    status: str
    ordered: date
    shipped: date | None
    kind: str
    months: int | None = None
    apr: float = 0.0
    plan_status: str = "active"
    extension_days: int | None = None
    instalments: list[_Inst] = field(default_factory=list)
    ret: dict[str, object] | None = None
    disputes: list[dict[str, object]] = field(default_factory=list)


def seed_demo(database: Database, today: date = DEMO_TODAY, reset: bool = False) -> dict[str, int]:
    """Add the demo accounts to ``database``.

    Args:
        database: the opened database (see :func:`bnpl_assistant.storage.open_database`).
        today: the day the demo data is built around; stored as ``meta.demo_today`` so that the accounts
            service uses the same day.
        reset: delete every account row (customers to audit) first; hand-offs and the log are kept.

    Returns:
        Row counts per table after seeding.
    """
    customers, orders = _generate(today)
    with database.session() as conn:
        with transaction(conn):
            if reset:
                for table in ACCOUNT_TABLES:
                    conn.execute(f"DELETE FROM {table}")
                conn.execute("DELETE FROM meta WHERE key = 'demo_today'")
            conn.execute("INSERT INTO meta (key, value) VALUES ('demo_today', ?) ON CONFLICT DO NOTHING",
                         (today.isoformat(),))
            conn.executemany("INSERT INTO customers (id, name, email, language, payment_method, "
                             "created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", customers)
            for order in orders:
                _insert_order(conn, order)
        return counts(conn)


def ensure_demo(database: Database, today: date = DEMO_TODAY) -> bool:
    """Seed when the database has no customers yet (first start). Returns True if it seeded."""
    with database.session() as conn:
        if conn.execute("SELECT 1 FROM customers LIMIT 1").fetchone():
            return False
    seed_demo(database, today)
    return True


def counts(conn: Connection) -> dict[str, int]:
    """Rows per account table, plus failed and paused instalments."""
    out = {t: int(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])
           for t in ("customers", "orders", "plans", "instalments", "returns", "disputes")}
    for status in ("failed", "paused", "due"):
        out[f"instalments_{status}"] = int(conn.execute(
            "SELECT COUNT(*) FROM instalments WHERE status = ?", (status,)).fetchone()[0])
    return out


# -- generation ----------------------------------------------------------------------------------------


def _generate(today: date) -> tuple[list[tuple[object, ...]], list[_Order]]:
    rng = random.Random(SEED)
    customers: list[tuple[object, ...]] = []
    orders: list[_Order] = []
    emails: set[str] = set()
    num = 10001
    for i in range(1, N_CUSTOMERS + 1):
        cid = f"cust-{i:03d}"
        lang = "de" if rng.random() < 0.4 else "en"
        first = rng.choice(FIRST_DE if lang == "de" else FIRST_EN)
        last = rng.choice(LAST_DE if lang == "de" else LAST_EN)
        email = _email(first, last, emails)
        method = "bank" if rng.random() < 0.3 else "card"
        created = today - timedelta(days=rng.randint(250, 900))
        customers.append((cid, f"{first} {last}", email, lang, method, created.isoformat()))
        for _ in range(rng.randint(1, 5)):
            orders.append(_make_order(rng, num, cid, lang, today))
            num += 1
    return customers, orders


def _email(first: str, last: str, seen: set[str]) -> str:
    table = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
    base = f"{first}.{last}".lower().translate(table)
    email, n = f"{base}@example.com", 2
    while email in seen:
        email, n = f"{base}{n}@example.com", n + 1
    seen.add(email)
    return email


def _make_order(rng: random.Random, num: int, cid: str, lang: str, today: date) -> _Order:
    shop, (low, high), items = rng.choice(SHOPS)
    euros = rng.randint(low, high)
    cents = euros * 100 + rng.choice([0, 0, 50, 90, 95, 99])
    amount = cents / 100
    picked = rng.sample(items, k=min(len(items), rng.choice([1, 1, 2])))
    chosen = [pair[1 if lang == "de" else 0] for pair in picked]
    recent = rng.random() < 0.65
    ordered = today - timedelta(days=rng.randint(2, 45) if recent else rng.randint(46, 260))
    kinds = [k for k, lo, hi in (("pay_in_4", 35, 1500), ("pay_in_30", 10, 1000), ("financing", 200, 5000))
             if lo <= amount <= hi]
    if not kinds:  # above every limit: cap into financing
        cents, kinds = 499900, ["financing"]
    if "financing" in kinds and (len(kinds) == 1 or rng.random() < 0.3):
        kind = "financing"
    else:
        kind = rng.choice([k for k in kinds if k != "financing"] or kinds)
    order = _Order(num, cid, shop, chosen, cents, "delivered", ordered, None, kind)
    if rng.random() < 0.03:
        order.status, order.plan_status = "cancelled", "cancelled"
        planned = _schedule(rng, order, ordered)
        order.instalments = [_Inst(i.seq, i.due, i.cents, "cancelled") for i in planned]
        return order
    shipped = min(ordered + timedelta(days=rng.randint(0, 2)), today)
    order.shipped = shipped
    order.status = "shipped" if (today - shipped).days < 5 else "delivered"
    order.instalments = _schedule(rng, order, shipped)
    for inst in order.instalments:
        if inst.due < today:
            inst.status, inst.paid_at, inst.attempts = "paid", inst.due, 1
            if (today - inst.due).days <= 9 and rng.random() < 0.35:
                days_late = (today - inst.due).days
                inst.status, inst.paid_at = "failed", None
                inst.attempts = 1 + (days_late >= 2) + (days_late >= 5)
    _maybe_return_or_dispute(rng, order, today)
    if all(i.status in ("paid", "cancelled") for i in order.instalments) and order.plan_status == "active":
        order.plan_status = "paid"
    open_insts = [i for i in order.instalments if i.status in ("due", "failed", "paused")]
    if kind != "financing" and open_insts and open_insts[0].status == "due" and rng.random() < 0.08:
        order.extension_days = 10  # used its one extension already (the dates shown are the moved ones)
    return order


def _schedule(rng: random.Random, order: _Order, start: date) -> list[_Inst]:
    if order.kind == "pay_in_4":
        base, rest = divmod(order.cents, 4)
        return [_Inst(k + 1, start + timedelta(days=14 * k),
                      base + (rest if k == 0 else 0)) for k in range(4)]
    if order.kind == "pay_in_30":
        return [_Inst(1, start + timedelta(days=30), order.cents)]
    order.months = rng.choice([m for m in MONTHS if m <= 12] if order.cents < 60000 else MONTHS)
    order.apr = rng.choice(APRS)
    day = rng.randint(1, 28)
    first = _add_months(start.replace(day=day), 1)
    amounts = _annuity(order.cents, order.apr, order.months)
    return [_Inst(k + 1, _add_months(first, k), amounts[k]) for k in range(order.months)]


def _annuity(cents: int, apr: float, months: int) -> list[int]:
    """Monthly instalments (cents) of ``cents`` at ``apr`` percent; the last one absorbs the rounding."""
    if apr == 0:
        base, rest = divmod(cents, months)
        return [base + (rest if k == 0 else 0) for k in range(months)]
    r = apr / 100 / 12
    payment = round(cents * r / (1 - (1 + r) ** -months))
    balance = float(cents)
    out = []
    for _ in range(months - 1):
        balance = balance * (1 + r) - payment
        out.append(payment)
    out.append(round(balance * (1 + r)))
    return out


def _add_months(d: date, n: int) -> date:
    month = d.month - 1 + n
    return d.replace(year=d.year + month // 12, month=month % 12 + 1)


def _maybe_return_or_dispute(rng: random.Random, order: _Order, today: date) -> None:
    if order.shipped is None:
        return
    open_insts = [i for i in order.instalments if i.status in ("due", "failed")]
    roll = rng.random()
    if roll < 0.10:
        if open_insts and rng.random() < 0.6:
            reported = max(order.shipped + timedelta(days=1), today - timedelta(days=rng.randint(0, 12)))
            reported = min(reported, today)
            until = reported + timedelta(days=RETURN_PAUSE_DAYS)
            for inst in open_insts:
                inst.paused_from, inst.status, inst.paused_until = inst.status, "paused", until
            order.ret = dict(reported=reported, until=until, status="reported", refund=None, at=None)
        else:
            reported = min(order.shipped + timedelta(days=rng.randint(2, 8)), today - timedelta(days=3))
            refunded = min(reported + timedelta(days=rng.randint(3, 12)), today - timedelta(days=1))
            refunded = max(refunded, reported)
            status = "confirmed" if (today - refunded).days <= 3 else "refunded"
            for inst in open_insts:
                inst.status = "cancelled"
            order.plan_status = "cancelled"
            order.ret = {"reported": reported, "until": reported + timedelta(days=RETURN_PAUSE_DAYS),
                         "status": status, "refund": order.cents, "at": refunded}
    elif roll < 0.16 and (today - order.ordered).days <= 180:
        opened = max(order.shipped + timedelta(days=1), today - timedelta(days=rng.randint(1, 20)))
        opened = min(opened, today)
        for inst in open_insts:
            inst.paused_from, inst.status, inst.paused_until = inst.status, "paused", None
        order.disputes.append({"opened": opened, "reason": rng.choice(DISPUTE_REASONS), "status": "open"})
    elif roll < 0.18:
        opened = order.shipped + timedelta(days=rng.randint(3, 10))
        if opened < today - timedelta(days=25):
            order.disputes.append({"opened": opened, "reason": rng.choice(DISPUTE_REASONS),
                                   "status": "decided-for-shop"})


def _insert_order(conn: Connection, o: _Order) -> None:
    oid, pid = f"ord-{o.num}", f"pln-{o.num}"
    conn.execute("INSERT INTO orders (id, customer_id, shop, items, amount_cents, currency, "
                 "status, ordered_at, shipped_at) VALUES (?, ?, ?, ?, ?, 'EUR', ?, ?, ?) ON CONFLICT DO NOTHING",
                 (oid, o.customer_id, o.shop, json.dumps(o.items, ensure_ascii=False), o.cents, o.status,
                  o.ordered.isoformat(), o.shipped.isoformat() if o.shipped else None))
    conn.execute("INSERT INTO plans (id, order_id, kind, months, apr, status, extension_days) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                 (pid, oid, o.kind, o.months, o.apr, o.plan_status, o.extension_days))
    conn.executemany(
        "INSERT INTO instalments (plan_id, seq, due_date, amount_cents, status, paid_at, attempts, "
        "paused_until, paused_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [(pid, i.seq, i.due.isoformat(), i.cents, i.status, _iso(i.paid_at), i.attempts, _iso(i.paused_until),
          i.paused_from) for i in o.instalments])
    if o.ret:
        r = o.ret
        conn.execute("INSERT INTO returns (id, order_id, reported_at, pause_until, status, "
                     "refund_cents, refunded_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                     (f"ret-{o.num}", oid, _iso(r["reported"]), _iso(r["until"]), r["status"], r["refund"],
                      _iso(r["at"])))
    for k, d in enumerate(o.disputes, start=1):
        conn.execute("INSERT INTO disputes (id, order_id, opened_at, reason, status) "
                     "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                     (f"dsp-{o.num}-{k}", oid, _iso(d["opened"]), d["reason"], d["status"]))


def _iso(value: object) -> str | None:
    return value.isoformat() if isinstance(value, date) else None
