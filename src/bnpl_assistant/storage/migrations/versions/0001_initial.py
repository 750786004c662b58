"""The first release: accounts, hand-offs, outbox, conversation log.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TEXT, INT, REAL = sa.Text, sa.Integer, sa.Float


def _id() -> sa.Column:
    return sa.Column("id", INT, primary_key=True, autoincrement=True)


def upgrade() -> None:
    _accounts()
    _support()
    _log()


def _accounts() -> None:
    op.create_table("meta", sa.Column("key", TEXT, primary_key=True), sa.Column("value", TEXT, nullable=False))
    op.create_table(
        "customers", sa.Column("id", TEXT, primary_key=True), sa.Column("name", TEXT, nullable=False),
        sa.Column("email", TEXT, nullable=False, unique=True), sa.Column("language", TEXT, nullable=False),
        sa.Column("payment_method", TEXT, nullable=False), sa.Column("created_at", TEXT, nullable=False),
        sa.CheckConstraint("payment_method IN ('card', 'bank')"))
    op.create_table(
        "orders", sa.Column("id", TEXT, primary_key=True),
        sa.Column("customer_id", TEXT, sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("shop", TEXT, nullable=False), sa.Column("items", TEXT, nullable=False),
        sa.Column("amount_cents", INT, nullable=False),
        sa.Column("currency", TEXT, nullable=False, server_default="EUR"),
        sa.Column("status", TEXT, nullable=False), sa.Column("ordered_at", TEXT, nullable=False),
        sa.Column("shipped_at", TEXT),
        sa.CheckConstraint("amount_cents > 0"),
        sa.CheckConstraint("status IN ('processing', 'shipped', 'delivered', 'cancelled')"))
    op.create_index("orders_customer", "orders", ["customer_id", "ordered_at"])
    op.create_table(
        "plans", sa.Column("id", TEXT, primary_key=True),
        sa.Column("order_id", TEXT, sa.ForeignKey("orders.id"), nullable=False, unique=True),
        sa.Column("kind", TEXT, nullable=False), sa.Column("months", INT),
        sa.Column("apr", REAL, nullable=False, server_default="0"), sa.Column("status", TEXT, nullable=False),
        sa.Column("extension_days", INT), sa.Column("extension_fee_cents", INT, nullable=False, server_default="0"),
        sa.CheckConstraint("kind IN ('pay_in_4', 'pay_in_30', 'financing')"),
        sa.CheckConstraint("status IN ('active', 'paid', 'cancelled')"))
    op.create_table(
        "instalments", _id(), sa.Column("plan_id", TEXT, sa.ForeignKey("plans.id"), nullable=False),
        sa.Column("seq", INT, nullable=False), sa.Column("due_date", TEXT, nullable=False),
        sa.Column("amount_cents", INT, nullable=False), sa.Column("status", TEXT, nullable=False),
        sa.Column("paid_at", TEXT), sa.Column("attempts", INT, nullable=False, server_default="0"),
        sa.Column("paused_until", TEXT), sa.Column("paused_from", TEXT),
        sa.UniqueConstraint("plan_id", "seq"),
        sa.CheckConstraint("status IN ('paid', 'due', 'failed', 'paused', 'cancelled')"))
    op.create_table(
        "returns", sa.Column("id", TEXT, primary_key=True),
        sa.Column("order_id", TEXT, sa.ForeignKey("orders.id"), nullable=False, unique=True),
        sa.Column("reported_at", TEXT, nullable=False), sa.Column("pause_until", TEXT, nullable=False),
        sa.Column("status", TEXT, nullable=False), sa.Column("refund_cents", INT), sa.Column("refunded_at", TEXT),
        sa.CheckConstraint("status IN ('reported', 'confirmed', 'refunded')"))
    op.create_table(
        "disputes", sa.Column("id", TEXT, primary_key=True),
        sa.Column("order_id", TEXT, sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("opened_at", TEXT, nullable=False), sa.Column("reason", TEXT, nullable=False),
        sa.Column("status", TEXT, nullable=False),
        sa.CheckConstraint("status IN ('open', 'decided-for-customer', 'decided-for-shop')"))
    op.create_index("disputes_one_open", "disputes", ["order_id"], unique=True,
                    sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))
    op.create_table(
        "audit", _id(), sa.Column("at", TEXT, nullable=False), sa.Column("actor", TEXT, nullable=False),
        sa.Column("action", TEXT, nullable=False), sa.Column("entity", TEXT, nullable=False),
        sa.Column("before", TEXT, nullable=False), sa.Column("after", TEXT, nullable=False))
    op.create_index("audit_entity", "audit", ["entity", "action"])


def _support() -> None:
    op.create_table(
        "handoffs", _id(), sa.Column("ticket", TEXT, unique=True), sa.Column("created_at", TEXT, nullable=False),
        sa.Column("conversation_id", TEXT, nullable=False), sa.Column("customer_id", TEXT),
        sa.Column("language", TEXT, nullable=False), sa.Column("reason", TEXT, nullable=False),
        sa.Column("topic", TEXT), sa.Column("team", TEXT, nullable=False), sa.Column("priority", INT, nullable=False),
        sa.Column("summary", TEXT, nullable=False), sa.Column("transcript", TEXT, nullable=False),
        sa.Column("status", TEXT, nullable=False), sa.Column("agent", TEXT), sa.Column("claimed_at", TEXT),
        sa.Column("closed_at", TEXT),
        sa.CheckConstraint("status IN ('open', 'claimed', 'closed')"), sqlite_autoincrement=True)
    op.create_index("handoffs_queue", "handoffs", ["status", "priority", "id"])
    op.create_table(
        "outbox", _id(), sa.Column("ticket", TEXT, nullable=False), sa.Column("url", TEXT, nullable=False),
        sa.Column("payload", TEXT, nullable=False), sa.Column("status", TEXT, nullable=False),
        sa.Column("attempts", INT, nullable=False, server_default="0"), sa.Column("last_error", TEXT),
        sa.Column("created_at", TEXT, nullable=False), sa.Column("delivered_at", TEXT),
        sa.CheckConstraint("status IN ('pending', 'delivered', 'rejected')"))
    op.create_index("outbox_pending", "outbox", ["status", "id"])


def _log() -> None:
    op.create_table(
        "turns", _id(), sa.Column("conversation_id", TEXT, nullable=False),
        sa.Column("turn_index", INT, nullable=False), sa.Column("created_at", TEXT, nullable=False),
        sa.Column("customer_id", TEXT), sa.Column("language", TEXT, nullable=False),
        sa.Column("message", TEXT, nullable=False), sa.Column("reply", TEXT, nullable=False),
        sa.Column("outcome", TEXT, nullable=False), sa.Column("topic", TEXT),
        sa.Column("sources", TEXT, nullable=False, server_default="[]"), sa.Column("model_path", TEXT, nullable=False),
        sa.Column("latency_ms", REAL), sa.Column("reason", TEXT, nullable=False, server_default=""),
        sa.Column("tool", TEXT), sa.Column("team", TEXT), sa.Column("ticket", TEXT), sa.Column("confidence", REAL),
        sa.Column("fell_back", INT, nullable=False, server_default="0"), sa.Column("feedback", INT),
        sa.Column("feedback_comment", TEXT),
        sa.UniqueConstraint("conversation_id", "turn_index"), sa.CheckConstraint("feedback IN (1, -1)"))
    op.create_index("turns_created", "turns", ["created_at"])
