"""initial: ohlcv_bars, ingest_chunks, promotion_history

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""
import sqlalchemy as sa
from alembic import op

from pipeline.store.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ohlcv_bars",
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("timeframe", sa.String(8), nullable=False),
        sa.Column("ts", UTCDateTime(), nullable=False),
        sa.Column("open", sa.Float(precision=53), nullable=False),
        sa.Column("high", sa.Float(precision=53), nullable=False),
        sa.Column("low", sa.Float(precision=53), nullable=False),
        sa.Column("close", sa.Float(precision=53), nullable=False),
        sa.Column("volume", sa.Float(precision=53), nullable=True),
        sa.Column("ingested_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("source", "symbol", "timeframe", "ts", name="pk_ohlcv_bars"),
    )
    op.create_index("ix_ohlcv_bars_symbol_tf_ts", "ohlcv_bars", ["symbol", "timeframe", "ts"])
    op.create_table(
        "ingest_chunks",
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("timeframe", sa.String(8), nullable=False),
        sa.Column("chunk_start", UTCDateTime(), nullable=False),
        sa.Column("chunk_end", UTCDateTime(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("completed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("source", "symbol", "timeframe", "chunk_start", name="pk_ingest_chunks"),
    )
    op.create_table(
        "promotion_history",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("model_name", sa.String(256), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("from_stage", sa.String(32), nullable=False),
        sa.Column("to_stage", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("gate_passed", sa.Boolean(), nullable=True),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_promotion_history_model_name", "promotion_history", ["model_name"])


def downgrade() -> None:
    op.drop_table("promotion_history")
    op.drop_table("ingest_chunks")
    op.drop_index("ix_ohlcv_bars_symbol_tf_ts", table_name="ohlcv_bars")
    op.drop_table("ohlcv_bars")
