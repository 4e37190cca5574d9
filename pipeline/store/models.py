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
