"""Who wrote a hand-off summary: 'extractive' or the chat model, e.g. 'openai:gpt-4o-mini'.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("handoffs", sa.Column("summary_by", sa.Text, nullable=False, server_default="extractive"))
