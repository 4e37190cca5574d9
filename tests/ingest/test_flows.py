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
