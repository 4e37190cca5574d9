"""The bar store on SQLite and PostgreSQL: idempotent upserts, atomic batches, provenance merge."""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from pipeline.errors import StoreError
from pipeline.store import BarStore
from pipeline.store.database import MIGRATIONS
from tests.stubs import random_walk_bars, sample_bars


def unique_symbol() -> str:
    return f"T{uuid.uuid4().hex[:8].upper()}"


def test_migrations_when_store_opened_create_canonical_table(db_url: str) -> None:
    store = BarStore(db_url)
    columns = {c["name"] for c in inspect(store.engine).get_columns("ohlcv_bars")}
    assert {"source", "symbol", "timeframe", "ts", "open", "high", "low", "close", "volume", "ingested_at"} <= columns
    pk = inspect(store.engine).get_pk_constraint("ohlcv_bars")["constrained_columns"]
    assert pk == ["source", "symbol", "timeframe", "ts"]


def test_upsert_when_repeated_changes_nothing(db_url: str) -> None:
    store, symbol = BarStore(db_url), unique_symbol()
    bars = sample_bars("AAPL", "2005-01-01", "2012-12-31")
    first = store.upsert(bars, source="sample", symbol=symbol, timeframe="1d")
    assert (first.inserted, first.updated, first.unchanged) == (len(bars), 0, 0)
    with store.engine.connect() as conn:
        stamps_before = conn.execute(
            text("select max(ingested_at) from ohlcv_bars where symbol=:s"), {"s": symbol}
        ).scalar()
    again = store.upsert(bars, source="sample", symbol=symbol, timeframe="1d")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, len(bars))
    with store.engine.connect() as conn:
        count = conn.execute(text("select count(*) from ohlcv_bars where symbol=:s"), {"s": symbol}).scalar()
        stamps_after = conn.execute(
            text("select max(ingested_at) from ohlcv_bars where symbol=:s"), {"s": symbol}
        ).scalar()
    assert count == len(bars)
    assert stamps_after == stamps_before


def test_upsert_when_a_value_changes_updates_only_that_bar(db_url: str) -> None:
    store, symbol = BarStore(db_url), unique_symbol()
    bars = random_walk_bars(50)
    store.upsert(bars, source="binance", symbol=symbol, timeframe="1d")
    changed = bars.copy()
    changed.iloc[10, changed.columns.get_loc("close")] += 1.0
    result = store.upsert(changed, source="binance", symbol=symbol, timeframe="1d")
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 49)
    loaded = store.load(symbol, "1d")
    assert loaded["close"].iloc[10] == pytest.approx(changed["close"].iloc[10])


def test_load_when_read_back_round_trips_values_and_utc_index(db_url: str) -> None:
    store, symbol = BarStore(db_url), unique_symbol()
    bars = random_walk_bars(120, freq="1h")
    store.upsert(bars, source="binance", symbol=symbol, timeframe="1h")
    loaded = store.load(symbol, "1h")
    assert str(loaded.index.tz) == "UTC"
    assert loaded.index.name == "ts"
    np.testing.assert_array_equal(loaded.index.to_numpy(), bars.index.to_numpy())
    np.testing.assert_allclose(loaded[["open", "high", "low", "close", "volume"]].to_numpy(), bars.to_numpy(), rtol=0)
    assert set(loaded["source"]) == {"binance"}


def test_load_when_window_given_is_inclusive_of_end_day(db_url: str) -> None:
    store, symbol = BarStore(db_url), unique_symbol()
    store.upsert(random_walk_bars(30, start="2021-01-01"), source="sample", symbol=symbol, timeframe="1d")
    loaded = store.load(symbol, "1d", "2021-01-05", "2021-01-10")
    assert loaded.index[0] == pd.Timestamp("2021-01-05", tz="UTC")
    assert loaded.index[-1] == pd.Timestamp("2021-01-10", tz="UTC")


def test_load_when_sources_overlap_takes_primary_and_keeps_provenance(db_url: str) -> None:
    store, symbol = BarStore(db_url), unique_symbol()
    bars = random_walk_bars(20, freq="1h")
    holed = bars.drop(bars.index[5:8])
    store.upsert(holed, source="polygon", symbol=symbol, timeframe="1h")
    store.upsert(bars * 1.001, source="binance", symbol=symbol, timeframe="1h")
    merged = store.load(symbol, "1h", sources=["polygon", "binance"])
    assert len(merged) == 20
    assert list(merged["source"].iloc[5:8]) == ["binance"] * 3
    assert (merged["source"].drop(merged.index[5:8]) == "polygon").all()
    assert merged["close"].iloc[0] == pytest.approx(bars["close"].iloc[0])


def test_upsert_when_batch_is_malformed_writes_nothing(db_url: str) -> None:
    store, symbol = BarStore(db_url), unique_symbol()
    bars = random_walk_bars(10)
    broken = bars.astype(object)
    broken.iloc[7, 0] = "oops"
    with pytest.raises(StoreError, match=r"column open has a non-numeric value at ts=2020-01-08"):
        store.upsert(broken, source="sample", symbol=symbol, timeframe="1d")
    duplicated = pd.concat([bars, bars.iloc[[3]]])
    with pytest.raises(StoreError, match="duplicate bar at ts=2020-01-04"):
        store.upsert(duplicated, source="sample", symbol=symbol, timeframe="1d")
    assert store.load(symbol, "1d").empty


def test_upsert_when_price_missing_writes_nothing(db_url: str) -> None:
    store, symbol = BarStore(db_url), unique_symbol()
    bars = random_walk_bars(10)
    bars.iloc[9, bars.columns.get_loc("close")] = np.nan
    with pytest.raises(StoreError, match="missing price at ts=2020-01-10"):
        store.upsert(bars, source="sample", symbol=symbol, timeframe="1d")
    assert store.load(symbol, "1d").empty


@pytest.mark.parametrize(("column", "value"), [("close", np.inf), ("high", -np.inf), ("volume", np.inf)])
def test_upsert_when_a_value_is_infinite_names_the_row_and_writes_nothing(db_url: str, column: str, value: float):
    store, symbol = BarStore(db_url), unique_symbol()
    bars = random_walk_bars(10)
    bars.iloc[6, bars.columns.get_loc(column)] = value
    with pytest.raises(StoreError, match=rf"non-finite {column}=-?inf at ts=2020-01-07"):
        store.upsert(bars, source="sample", symbol=symbol, timeframe="1d")
    assert store.load(symbol, "1d").empty


def test_load_when_hourly_window_given_is_half_open_and_a_date_end_covers_its_day(db_url: str) -> None:
    store, symbol = BarStore(db_url), unique_symbol()
    store.upsert(random_walk_bars(72, start="2021-01-01", freq="1h"), source="sample", symbol=symbol, timeframe="1h")
    whole_day = store.load(symbol, "1h", "2021-01-02", "2021-01-02")
    assert len(whole_day) == 24 and whole_day.index[-1] == pd.Timestamp("2021-01-02 23:00", tz="UTC")
    until_noon = store.load(symbol, "1h", "2021-01-02", pd.Timestamp("2021-01-02 12:00", tz="UTC"))
    assert len(until_noon) == 12 and until_noon.index[-1] == pd.Timestamp("2021-01-02 11:00", tz="UTC")


@pytest.mark.slow
def test_upsert_when_database_rejects_the_last_row_rolls_back_the_whole_batch(db_url: str) -> None:
    store, symbol = BarStore(db_url), unique_symbol()
    bars = random_walk_bars(6000, freq="1h")  # more rows than one INSERT statement carries
    poison = float(bars["close"].iloc[-1])
    with store.engine.begin() as conn:  # a real database-side failure on the very last row
        if store.engine.dialect.name == "sqlite":
            conn.execute(
                text(f"""CREATE TRIGGER poison_{symbol} BEFORE INSERT ON ohlcv_bars
                WHEN NEW.symbol = '{symbol}' AND NEW.close = {poison!r}
                BEGIN SELECT RAISE(ABORT, 'poisoned row'); END""")
            )
        else:
            conn.execute(
                text(f"""CREATE FUNCTION poison_{symbol}() RETURNS trigger AS $$
                BEGIN IF NEW.symbol = '{symbol}' AND NEW.close = {poison!r} THEN
                RAISE EXCEPTION 'poisoned row'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql""")
            )
            conn.execute(
                text(f"""CREATE TRIGGER poison_{symbol} BEFORE INSERT ON ohlcv_bars
                FOR EACH ROW EXECUTE FUNCTION poison_{symbol}()""")
            )
    with pytest.raises(StoreError, match="write failed, nothing stored"):
        store.upsert(bars, source="binance", symbol=symbol, timeframe="1h")
    assert store.load(symbol, "1h").empty
    with store.engine.begin() as conn:
        conn.execute(
            text(f"DROP TRIGGER poison_{symbol}" + ("" if store.engine.dialect.name == "sqlite" else " ON ohlcv_bars"))
        )


def test_summary_when_series_stored_lists_them(db_url: str) -> None:
    store, symbol = BarStore(db_url), unique_symbol()
    store.upsert(random_walk_bars(15), source="sample", symbol=symbol, timeframe="1d")
    summary = store.summary(symbol)
    assert summary.to_dict("records")[0]["rows"] == 15


def test_migrations_when_optuna_shares_the_database_keep_separate_histories(db_url: str) -> None:
    store = BarStore(db_url)
    tables = set(inspect(store.engine).get_table_names())
    assert "quantgate_alembic_version" in tables
    with store.engine.connect() as conn:
        head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
        assert conn.execute(text("select version_num from quantgate_alembic_version")).scalar() == head


def test_upsert_when_the_database_goes_away_raises_store_unavailable_which_tasks_retry() -> None:
    from pipeline.errors import StoreUnavailable
    from tests.conftest import _create_database, _drop_database

    name, url = _create_database("qg_outage")
    store = BarStore(url)
    store.upsert(random_walk_bars(5), source="sample", symbol="OUT", timeframe="1d")
    _drop_database(name)  # the outage: every connection killed, the database gone
    with pytest.raises(StoreUnavailable, match=r"sample:OUT:1d: database unavailable, nothing stored \(") as err:
        BarStore(engine=store.engine).upsert(random_walk_bars(5), source="sample", symbol="OUT", timeframe="1d")
    assert "\n" not in str(err.value)
    store.engine.dispose()
