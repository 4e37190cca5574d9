"""trading ledger: orders, events and states per strategy; the paper broker's own account

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from pipeline.store.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

F = sa.Float(precision=53)


def upgrade() -> None:
    op.create_table(
        "trading_orders",
        sa.Column("client_order_id", sa.String(128), nullable=False),
        sa.Column("strategy", sa.String(128), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("quantity", F, nullable=False),
        sa.Column("bar_ts", UTCDateTime(), nullable=False),
        sa.Column("model_version", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("broker_order_id", sa.String(64), nullable=True),
        sa.Column("filled_quantity", F, nullable=False),
        sa.Column("avg_price", F, nullable=True),
        sa.Column("fee", F, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("client_order_id", name="pk_trading_orders"),
    )
    op.create_index("ix_trading_orders_strategy", "trading_orders", ["strategy"])
    op.create_table(
        "trading_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_order_id", sa.String(128), nullable=False),
        sa.Column("strategy", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("bar_ts", UTCDateTime(), nullable=False),
        sa.Column("model_version", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("data", sa.Text(), nullable=True),
        sa.Column("ts_event", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_trading_events"),
    )
    op.create_index("ix_trading_events_client_order_id", "trading_events", ["client_order_id"])
    op.create_index("ix_trading_events_strategy", "trading_events", ["strategy"])
    op.create_table(
        "trading_states",
        sa.Column("strategy", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("strategy", name="pk_trading_states"),
    )
    op.create_table(
        "paper_accounts",
        sa.Column("account", sa.String(128), nullable=False),
        sa.Column("cash", F, nullable=False),
        sa.Column("starting_cash", F, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("account", name="pk_paper_accounts"),
    )
    op.create_table(
        "paper_orders",
        sa.Column("account", sa.String(128), nullable=False),
        sa.Column("client_order_id", sa.String(128), nullable=False),
        sa.Column("broker_order_id", sa.String(64), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("quantity", F, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("filled_quantity", F, nullable=False),
        sa.Column("avg_price", F, nullable=True),
        sa.Column("fee", F, nullable=False),
        sa.Column("submitted_at", UTCDateTime(), nullable=False),
        sa.Column("filled_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("account", "client_order_id", name="pk_paper_orders"),
    )
    op.create_table(
        "paper_fills",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account", sa.String(128), nullable=False),
        sa.Column("client_order_id", sa.String(128), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("quantity", F, nullable=False),
        sa.Column("price", F, nullable=False),
        sa.Column("fee", F, nullable=False),
        sa.Column("ts", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_paper_fills"),
    )
    op.create_index("ix_paper_fills_account", "paper_fills", ["account"])
    op.create_table(
        "paper_positions",
        sa.Column("account", sa.String(128), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("quantity", F, nullable=False),
        sa.Column("avg_price", F, nullable=False),
        sa.PrimaryKeyConstraint("account", "symbol", name="pk_paper_positions"),
    )


def downgrade() -> None:
    for table in ("paper_positions", "paper_fills", "paper_orders", "paper_accounts", "trading_states"):
        op.drop_table(table)
    op.drop_index("ix_trading_events_strategy", "trading_events")
    op.drop_index("ix_trading_events_client_order_id", "trading_events")
    op.drop_table("trading_events")
    op.drop_index("ix_trading_orders_strategy", "trading_orders")
    op.drop_table("trading_orders")
