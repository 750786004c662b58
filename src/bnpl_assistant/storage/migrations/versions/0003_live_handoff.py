"""Live hand-off: who owns a conversation, every chat message, ratings, agents' account views.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TEXT, INT = sa.Text, sa.Integer


def _id() -> sa.Column:
    return sa.Column("id", INT, primary_key=True, autoincrement=True)


def upgrade() -> None:
    op.create_table(
        "conversations", sa.Column("id", TEXT, primary_key=True), sa.Column("customer_id", TEXT),
        sa.Column("owner", TEXT, nullable=False, server_default="assistant"), sa.Column("ticket", TEXT),
        sa.Column("state", TEXT, nullable=False, server_default="{}"), sa.Column("created_at", TEXT, nullable=False),
        sa.Column("updated_at", TEXT, nullable=False))
    op.create_table(
        "messages", _id(), sa.Column("conversation_id", TEXT, nullable=False), sa.Column("at", TEXT, nullable=False),
        sa.Column("role", TEXT, nullable=False), sa.Column("author", TEXT), sa.Column("text", TEXT, nullable=False),
        sa.CheckConstraint("role IN ('customer', 'assistant', 'agent', 'system')"))
    op.create_index("messages_conversation", "messages", ["conversation_id", "id"])
    op.create_table(
        "ratings", _id(), sa.Column("conversation_id", TEXT, nullable=False), sa.Column("ticket", TEXT),
        sa.Column("at", TEXT, nullable=False), sa.Column("score", INT, nullable=False), sa.Column("comment", TEXT),
        sa.Column("resolved_by", TEXT, nullable=False), sa.Column("topic", TEXT),
        sa.CheckConstraint("score BETWEEN 1 AND 5"), sa.CheckConstraint("resolved_by IN ('assistant', 'agent')"))
    op.create_table(
        "desk_access", _id(), sa.Column("at", TEXT, nullable=False), sa.Column("agent", TEXT, nullable=False),
        sa.Column("action", TEXT, nullable=False), sa.Column("entity", TEXT, nullable=False))
    op.add_column("handoffs", sa.Column("close_reason", TEXT))
    op.add_column("handoffs", sa.Column("reopened", INT, nullable=False, server_default="0"))
