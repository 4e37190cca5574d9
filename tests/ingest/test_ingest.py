"""Chunked, resumable, idempotent ingestion through the library, on SQLite and PostgreSQL (the `quantgate ingest`
command: tests/cli/test_data.py)."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest

from pipeline.errors import SourceError
from pipeline.ingest import ensure_bars, ingest, plan_chunks
from pipeline.store import BarStore
from tests.fakes.fixtures import hourly_crypto, punch

START, END = "2024-01-01", "2024-01-10"


def _served(binance_fake, symbol: str = "BTCUSDT") -> pd.DataFrame:
    frame = punch(
        hourly_crypto(n=24 * 20), ("2024-01-04 05:00", "2024-01-04 09:00"), ("2024-01-08 00:00", "2024-01-08 00:00")
    )
    return binance_fake.add(symbol, "1h", frame)


def _window(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.loc[
        (frame.index >= pd.Timestamp(START, tz="UTC")) & (frame.index < pd.Timestamp("2024-01-11", tz="UTC"))
    ]


def test_ingest_when_killed_half_way_and_rerun_ends_complete_without_duplicates(binance_fake, qg_home):
    served = _window(_served(binance_fake))
    store = BarStore()
    # Chunks are cut at multiples of 2 days since the epoch: 01, 02-03, 04-05, 06-07, 08-09, 10. Each
    # chunk costs one klines request; the 3rd chunk's page is garbage.
    binance_fake.fail("garbage", match="klines", after=2)
    with pytest.raises(SourceError) as err:
        ingest("binance", "BTCUSDT", "1h", START, END, store=store, chunk="2D")
    assert "binance: BTCUSDT [2024-01-04, 2024-01-06)" in str(err.value)
    assert "\n" not in str(err.value)
    partial = store.load("BTCUSDT", "1h")
    assert partial.index.max() < pd.Timestamp("2024-01-04", tz="UTC")  # the failing chunk wrote nothing
    assert len(partial) == len(served.loc[:"2024-01-03 23:00"])

    report = ingest("binance", "BTCUSDT", "1h", START, END, store=store, chunk="2D")
    assert report.chunks_skipped == 2
    assert report.chunks_done == 4
    assert report.inserted == len(served) - len(partial)
    final = store.load("BTCUSDT", "1h")
    assert not final.index.has_duplicates
    pd.testing.assert_frame_equal(final.drop(columns="source"), served, check_freq=False)


def test_ingest_when_interrupted_by_the_user_resumes_after_the_last_committed_chunk(binance_fake, qg_home):
    served = _window(_served(binance_fake))
    store = BarStore()

    def stop_after_two(result):
        if result.index == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest("binance", "BTCUSDT", "1h", START, END, store=store, chunk="2D", progress=stop_after_two)
    report = ingest("binance", "BTCUSDT", "1h", START, END, store=store, chunk="2D")
    assert (report.chunks_skipped, report.chunks_done) == (2, 4)
    assert len(store.load("BTCUSDT", "1h")) == len(served)


@pytest.mark.postgres
def test_ingest_on_postgres_when_rerun_changes_nothing(binance_fake, pg_url):
    symbol = f"T{uuid.uuid4().hex[:6].upper()}USDT"
    served = _window(_served(binance_fake, symbol))
    store = BarStore(pg_url)
    first = ingest("binance", symbol, "1h", START, END, store=store, chunk="3D")
    assert (first.inserted, first.updated) == (len(served), 0)
    again = ingest("binance", symbol, "1h", START, END, store=store, chunk="3D", resume=False)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, len(served))
    stored = store.load(symbol, "1h")
    pd.testing.assert_frame_equal(stored.drop(columns="source"), served, check_freq=False)


@pytest.mark.parametrize("kind", ["429", "500", "503", "timeout", "truncate", "reset"])
def test_ingest_when_a_transient_failure_is_scripted_ends_with_a_correct_store(binance_fake, qg_home, kind):
    served = _window(_served(binance_fake))
    binance_fake.fail(kind, match="klines", after=3, times=2)
    report = ingest("binance", "BTCUSDT", "1h", START, END, chunk="3D")
    assert report.inserted == len(served)
    pd.testing.assert_frame_equal(BarStore().load("BTCUSDT", "1h").drop(columns="source"), served, check_freq=False)


def test_ingest_when_the_key_is_rejected_keeps_the_key_out_of_the_error(binance_fake, qg_home, monkeypatch):
    _served(binance_fake)
    secret = "sekrit-binance-key-0123456789"
    monkeypatch.setenv("BINANCE_API_KEY", secret)
    monkeypatch.setenv("BINANCE_API_SECRET", "sekrit-secret-987")
    binance_fake.api_key = "the-right-key"  # the fake echoes the wrong key back, as a careless server might
    with pytest.raises(SourceError) as err:
        ingest("binance", "BTCUSDT", "1h", START, END)
    assert "HTTP 401" in str(err.value)
    assert secret not in str(err.value)
    assert "***" in str(err.value)


def test_ingest_when_the_source_is_sample_stores_daily_bars(qg_home):
    report = ingest("sample", "AAPL", "1d", "2010-01-01", "2010-12-31")
    assert report.inserted == 252
    assert ingest("sample", "AAPL", "1d", "2010-01-01", "2010-12-31").chunks_skipped == report.chunks_total


def test_ensure_bars_when_bars_are_present_does_nothing_and_otherwise_ingests(qg_home):
    from pipeline.config._models import DataConfig

    cfg = DataConfig(source="sample", symbol="MSFT", timeframe="1d", start="2011-01-01", end="2011-06-30")
    first = ensure_bars(cfg)
    assert first is not None and first.inserted > 100
    assert ensure_bars(cfg) is None


def test_plan_chunks_when_the_window_is_unaligned_cuts_at_chunk_multiples():
    chunks = plan_chunks(
        pd.Timestamp("2024-01-01 05:00", tz="UTC"), pd.Timestamp("2024-01-03 23:00", tz="UTC"), pd.Timedelta("1D")
    )
    assert [c[0].strftime("%d %H") for c in chunks] == ["01 05", "02 00", "03 00"]
    assert chunks[0][1] == pd.Timestamp("2024-01-02", tz="UTC")  # half-open: each chunk ends where the next starts
    assert chunks[-1][1] == pd.Timestamp("2024-01-03 23:00", tz="UTC")
