"""A fleet: outbox items claimed by one instance at a time (a lease, so a dead instance's claim runs out).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("claimed_by", sa.Text))
    op.add_column("outbox", sa.Column("claimed_until", sa.Text))
