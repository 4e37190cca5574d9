"""SQLAlchemy 2 models of quantgate's own tables. Schema changes go through Alembic migrations."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, Float, Integer, String, Text, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC timestamp on every backend (SQLite stores it naive, we hand it back aware)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value} given where a UTC timestamp is required")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    pass


class OhlcvBar(Base):
    """One bar of one symbol at one timeframe from one source (the source is its provenance)."""

    __tablename__ = "ohlcv_bars"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    timeframe: Mapped[str] = mapped_column(String(8), primary_key=True)
    ts: Mapped[dt.datetime] = mapped_column(UTCDateTime(), primary_key=True)
    open: Mapped[float] = mapped_column(Float(precision=53))
    high: Mapped[float] = mapped_column(Float(precision=53))
    low: Mapped[float] = mapped_column(Float(precision=53))
    close: Mapped[float] = mapped_column(Float(precision=53))
    volume: Mapped[float | None] = mapped_column(Float(precision=53), nullable=True)
    ingested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class IngestChunk(Base):
    """A window of bars fetched and stored completely: lets a killed backfill resume where it stopped."""

    __tablename__ = "ingest_chunks"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    timeframe: Mapped[str] = mapped_column(String(8), primary_key=True)
    chunk_start: Mapped[dt.datetime] = mapped_column(UTCDateTime(), primary_key=True)
    chunk_end: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    rows: Mapped[int] = mapped_column(Integer)
    completed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class PromotionEvent(Base):
    """A change of a registered model version's stage: who, what, when, why, from -> to."""

    __tablename__ = "promotion_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(String(256), index=True)
    version: Mapped[str] = mapped_column(String(32))
    from_stage: Mapped[str] = mapped_column(String(32))
    to_stage: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    gate_passed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class SweepClaim(Base):
    """One sweep process's claim on one unit of work (a config on given data with given code).

    ``state`` is ``claimed`` while the owner runs it (``heartbeat_at`` refreshed), then ``finished`` or
    ``failed``. A claim whose owner died (pid gone on the same host, or heartbeat stale) can be taken over.
    """

    __tablename__ = "sweep_claims"

    work_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    label: Mapped[str] = mapped_column(Text)
    config_hash: Mapped[str] = mapped_column(String(64))
    data_fingerprint: Mapped[str] = mapped_column(String(128))
    code_version: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    owner_host: Mapped[str] = mapped_column(String(255))
    owner_pid: Mapped[int] = mapped_column(Integer)
    owner_started: Mapped[str | None] = mapped_column(String(32), nullable=True)
    token: Mapped[str] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer)
    claimed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


# -----------------------------------------------------------------------------------------------------------
# trading ledger (pipeline.execution.ledger) and the paper broker's own account (pipeline.execution.paper)


class TradingOrder(Base):
    """One order intent of one strategy, written before it is submitted (its id is deterministic)."""

    __tablename__ = "trading_orders"

    client_order_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    strategy: Mapped[str] = mapped_column(String(128), index=True)
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[float] = mapped_column(Float(precision=53))
    bar_ts: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    model_version: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    broker_order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    filled_quantity: Mapped[float] = mapped_column(Float(precision=53), default=0.0)
    avg_price: Mapped[float | None] = mapped_column(Float(precision=53), nullable=True)
    fee: Mapped[float] = mapped_column(Float(precision=53), default=0.0)
    limit_price: Mapped[float | None] = mapped_column(Float(precision=53), nullable=True)  # None: market
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class TradingEvent(Base):
    """A past-tense order event (OrderSubmitted, OrderDenied, ...) with the model version and bar."""

    __tablename__ = "trading_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_order_id: Mapped[str] = mapped_column(String(128), index=True)
    strategy: Mapped[str] = mapped_column(String(128), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    bar_ts: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    model_version: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    data: Mapped[str | None] = mapped_column(Text, nullable=True)
    ts_event: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class TradingStateRow(Base):
    """A strategy's trading state (ACTIVE / REDUCING / HALTED), with why and since when."""

    __tablename__ = "trading_states"

    strategy: Mapped[str] = mapped_column(String(128), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class PaperAccount(Base):
    """The paper broker's account: cash (positions, orders and fills in their own tables)."""

    __tablename__ = "paper_accounts"

    account: Mapped[str] = mapped_column(String(128), primary_key=True)
    cash: Mapped[float] = mapped_column(Float(precision=53))
    starting_cash: Mapped[float] = mapped_column(Float(precision=53))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class PaperOrder(Base):
    """An order the paper broker received; the client order id is unique per account, like a venue's."""

    __tablename__ = "paper_orders"

    account: Mapped[str] = mapped_column(String(128), primary_key=True)
    client_order_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    broker_order_id: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[float] = mapped_column(Float(precision=53))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    filled_quantity: Mapped[float] = mapped_column(Float(precision=53), default=0.0)
    avg_price: Mapped[float | None] = mapped_column(Float(precision=53), nullable=True)
    fee: Mapped[float] = mapped_column(Float(precision=53), default=0.0)
    limit_price: Mapped[float | None] = mapped_column(Float(precision=53), nullable=True)  # None: market
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    filled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class PaperFill(Base):
    """One execution in the paper account."""

    __tablename__ = "paper_fills"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(128), index=True)
    client_order_id: Mapped[str] = mapped_column(String(128))
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[float] = mapped_column(Float(precision=53))
    price: Mapped[float] = mapped_column(Float(precision=53))
    fee: Mapped[float] = mapped_column(Float(precision=53))
    ts: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class PaperPosition(Base):
    """The paper account's signed quantity of one symbol."""

    __tablename__ = "paper_positions"

    account: Mapped[str] = mapped_column(String(128), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    quantity: Mapped[float] = mapped_column(Float(precision=53))
    avg_price: Mapped[float] = mapped_column(Float(precision=53))
