"""Connecting does not migrate; ``ensure_schema`` (and the repositories, which call it) does."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import inspect

from pipeline.store import BarStore, ensure_schema, get_engine
from pipeline.store.promotions import PromotionLog


def test_get_engine_when_database_is_fresh_creates_no_table(tmp_path: Path):
    engine = get_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert inspect(engine).get_table_names() == []


def test_ensure_schema_when_database_is_fresh_creates_every_quantgate_table(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    engine = ensure_schema(url)
    assert engine is get_engine(url)
    tables = set(inspect(engine).get_table_names())
    assert {"ohlcv_bars", "ingest_chunks", "promotion_history", "sweep_claims"} <= tables


def test_bar_store_when_opened_on_a_fresh_database_records_and_reads_chunks(tmp_path: Path):
    store = BarStore(f"sqlite:///{tmp_path / 'fresh.db'}")
    lo, hi = pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-01-31", tz="UTC")
    store.record_chunk(source="sample", symbol="AAPL", timeframe="1d", start=lo, end=hi, rows=20)
    store.record_chunk(source="sample", symbol="AAPL", timeframe="1d", start=lo, end=hi, rows=21)  # a rerun
    assert store.completed_chunks(source="sample", symbol="AAPL", timeframe="1d") == {lo: hi}
    assert store.completed_chunks(source="sample", symbol="IBM", timeframe="1d") == {}


def test_promotion_log_when_rows_appended_reads_them_back_oldest_first(tmp_path: Path):
    log = PromotionLog(f"sqlite:///{tmp_path / 'fresh.db'}")
    row = {"model_name": "m", "version": "1", "from_stage": "None", "to_stage": "Staging", "actor": "a",
           "reason": "r", "run_id": None, "gate_passed": True, "forced": False}  # fmt: skip
    log.append([row | {"at": pd.Timestamp("2024-01-02", tz="UTC").to_pydatetime()}])
    log.append([row | {"version": "2", "at": pd.Timestamp("2024-01-01", tz="UTC").to_pydatetime()}])
    assert [r["version"] for r in log.read("m")] == ["2", "1"]
    assert log.read("other") == []
