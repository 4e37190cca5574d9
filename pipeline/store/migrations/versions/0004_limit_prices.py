"""limit orders: the limit price of a ledger order and of a paper broker order (NULL: a market order)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("trading_orders", sa.Column("limit_price", sa.Float(precision=53), nullable=True))
    op.add_column("paper_orders", sa.Column("limit_price", sa.Float(precision=53), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("paper_orders") as batch:
        batch.drop_column("limit_price")
    with op.batch_alter_table("trading_orders") as batch:
        batch.drop_column("limit_price")
