"""Gap detection against the expected grid and gap filling from a second source, with provenance."""

from __future__ import annotations

import pandas as pd

from pipeline.gaps import Gap, fill_gaps, find_gaps
from pipeline.ingest import ingest
from pipeline.store import BarStore
from tests.fakes.fixtures import hourly_crypto, punch
from tests.stubs import sample_bars


def _utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_fill_gaps_reports_partial_volume_coverage_of_the_secondary_source(binance_fake, alpaca_fake, qg_home):
    full = hourly_crypto(n=24 * 4)
    binance_fake.add("BTCUSDT", "1h", punch(full, ("2024-01-02 00:00", "2024-01-02 02:00")))
    alpaca_fake.add("BTC/USDT", "1h", full.assign(volume=full["volume"] / 10))
    store = BarStore()
    ingest("binance", "BTCUSDT", "1h", "2024-01-01", "2024-01-03", store=store)
    # Alpaca also covers bars Binance holds, so the two volumes can be compared on the same bars.
    ingest("alpaca", "BTCUSDT", "1h", "2024-01-01", "2024-01-01", store=store)
    report = fill_gaps(store, "BTCUSDT", "1h", "alpaca", source="binance")
    assert report.filled == 3 and report.missing_after == 0
    volume = report.volume.set_index("source")
    assert volume.loc["binance", "volume_ratio"] == 1.0
    assert abs(volume.loc["alpaca", "volume_ratio"] - 0.1) < 1e-9


def test_find_gaps_when_equity_bars_miss_sessions_follows_the_exchange_calendar(polygon_fake, qg_home):
    served = sample_bars("AAPL", "2011-01-01", "2011-03-31")
    holey = punch(served, ("2011-02-07", "2011-02-09"), ("2011-03-15", "2011-03-15"))
    polygon_fake.add("AAPL", "1d", holey)
    store = BarStore()
    ingest("polygon", "AAPL", "1d", "2011-01-03", "2011-03-31", store=store)
    assert len(store.load("AAPL", "1d")) == len(holey)

    gaps = find_gaps(store, "AAPL", "1d", source="polygon", start="2011-01-03", end="2011-03-31")
    # Weekends and Presidents' Day (2011-02-21) are not gaps.
    assert gaps == [
        Gap(_utc("2011-02-07"), _utc("2011-02-09"), 3),
        Gap(_utc("2011-03-15"), _utc("2011-03-15"), 1),
    ]
    report = fill_gaps(store, "AAPL", "1d", "sample", source="polygon", start="2011-01-03", end="2011-03-31")
    assert report.filled == 4 and report.gaps_after == []
    merged = store.load("AAPL", "1d", sources=["polygon", "sample"])
    assert merged["source"].value_counts().to_dict() == {"polygon": len(holey), "sample": 4}


def test_find_gaps_when_nothing_is_stored_and_no_window_is_given_returns_nothing(qg_home):
    assert find_gaps(BarStore(), "NOTHING", "1h", source="binance") == []
