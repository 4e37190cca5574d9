"""The Prefect flows compose the ingestion tasks (real Prefect, one harness per session)."""

from __future__ import annotations

import pytest

from pipeline.store import BarStore
from tests.fakes.fixtures import hourly_crypto, punch


@pytest.mark.slow
def test_ingest_flow_then_collect_flow_when_run_twice_keeps_the_store_exact(prefect_harness, binance_fake, qg_home):
    from flows.ingest import ingest_flow

    served = binance_fake.add("BTCUSDT", "1h", punch(hourly_crypto(n=24 * 6), ("2024-01-02 03:00", "2024-01-02 04:00")))
    first = ingest_flow("binance", "BTCUSDT", "1h", "2024-01-01", "2024-01-06", chunk_days=2)
    assert first["inserted"] == len(served)
    second = ingest_flow("binance", "BTCUSDT", "1h", "2024-01-01", "2024-01-06", chunk_days=2)
    assert (second["inserted"], second["updated"], second["chunks_skipped"]) == (0, 0, second["chunks_total"])
    assert len(BarStore().load("BTCUSDT", "1h")) == len(served)


@pytest.mark.slow
def test_collect_flow_when_polling_records_quality_verdicts_of_the_closed_bars(prefect_harness, binance_fake, qg_home):
    import pandas as pd

    from flows.ingest import collect_flow
    from pipeline.quality.verdicts import check_window, fingerprint, passed_bars

    now = pd.Timestamp.now(tz="UTC").floor("1h")
    binance_fake.add("BTCUSDT", "1h", hourly_crypto(start=str(now - pd.Timedelta(days=10)), n=24 * 10 + 1))
    (report,) = collect_flow("binance", ["BTCUSDT"], "1h", lookback_bars=48)
    if pd.Timestamp.now(tz="UTC").floor("1h") != now:
        pytest.skip("the hour turned during the flow: the bar served as forming had closed")
    stored = BarStore().load("BTCUSDT", "1h")
    closed = stored[stored.index < now]  # the bar opened at `now` is still forming
    passed = passed_bars("BTCUSDT", "1h", "crypto")
    assert report["quality_validated"] == len(passed) > 0
    assert now not in passed.index and passed.index[-1] == closed.index[-1]
    assert (passed.to_numpy() == fingerprint(closed.loc[passed.index]).to_numpy()).all()
    assert check_window(closed.loc[passed.index[0] :], symbol="BTCUSDT", timeframe="1h", asset_class="crypto",
                        what="BTCUSDT 1h") == 0  # fmt: skip
