"""Servers that misbehave end every fetch or ingestion in one clean line within the configured bounds.

Trickling, endless-paging, malformed and rate-limiting servers are local fakes (tests/fakes); the
deadlines are set short through the environment, as a user would set them. No timing is asserted:
each test only has to finish, with the right one-line error.
"""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.errors import SourceError, SourceUnavailable
from pipeline.ingest import ingest
from pipeline.sources import get_source
from pipeline.store import BarStore
from tests.fakes.fixtures import hourly_crypto
from tests.stubs import sample_bars

START, END = "2024-01-01", "2024-01-10"
WINDOW = "binance: BTCUSDT [2024-01-01, 2024-01-11)"


def _one_line(error: BaseException) -> str:
    text = str(error)
    assert "\n" not in text and "Traceback" not in text
    return text


@pytest.mark.parametrize("kind", ["trickle", "trickle_headers"])
def test_ingest_when_the_server_trickles_gives_up_at_the_request_deadline(binance_fake, short_deadlines, kind):
    binance_fake.add("BTCUSDT", "1h", hourly_crypto(n=24 * 10))
    binance_fake.trickle_interval = 0.3  # a byte every 0.3 s never trips the 30 s read timeout
    binance_fake.fail(kind, match="klines", times=10)
    with pytest.raises(SourceUnavailable) as err:
        ingest("binance", "BTCUSDT", "1h", START, END)
    message = _one_line(err.value)
    assert message.startswith(WINDOW)
    assert "gave up after 2 attempts: no complete answer within 1 s (QUANTGATE_REQUEST_DEADLINE)" in message
    assert len(binance_fake.data_requests("klines")) == 2
    assert BarStore().summary().empty


@pytest.mark.parametrize("kind", ["trickle", "trickle_headers"])
@pytest.mark.parametrize("service", ["polygon", "alpaca"])
def test_client_library_sources_when_the_server_trickles_give_up_at_the_request_deadline(
    request: pytest.FixtureRequest, short_deadlines, service: str, kind: str
):
    fake = request.getfixturevalue(f"{service}_fake")
    fake.add("AAPL", "1d", sample_bars("AAPL", "2010-01-04", "2010-02-26"))  # one page
    fake.trickle_interval = 0.3
    fake.fail(kind, times=10)
    window = pd.Timestamp("2010-01-04", tz="UTC"), pd.Timestamp("2010-03-01", tz="UTC")
    with pytest.raises(SourceUnavailable) as err:
        get_source(service).fetch("AAPL", "1d", *window)
    message = _one_line(err.value)
    assert message.startswith(f"{service}: AAPL [2010-01-04, 2010-03-01): gave up after 2 attempts: ")
    assert message.endswith("no complete answer within 1 s (QUANTGATE_REQUEST_DEADLINE)")


def test_ingest_when_the_server_ignores_start_time_stops_at_the_second_page(binance_fake, short_deadlines):
    binance_fake.add("BTCUSDT", "1h", hourly_crypto(n=24 * 60))  # 1440 bars: two pages of 1000
    binance_fake.ignore_start_time = True
    with pytest.raises(SourceError) as err:
        ingest("binance", "BTCUSDT", "1h", "2024-01-01", "2024-02-29", chunk="60D")
    message = _one_line(err.value)
    assert "before the requested startTime" in message and "the server ignores startTime" in message
    assert len(binance_fake.data_requests("klines")) == 2


def test_polygon_fetch_when_next_url_never_ends_stops_at_the_page_cap(polygon_fake, short_deadlines, monkeypatch):
    monkeypatch.setenv("QUANTGATE_MAX_PAGES", "5")
    polygon_fake.add("AAPL", "1d", sample_bars("AAPL", "2010-01-01", "2010-12-31"))
    polygon_fake.endless = True
    year = pd.Timestamp("2010-01-01", tz="UTC"), pd.Timestamp("2011-01-01", tz="UTC")
    with pytest.raises(SourceError) as err:
        get_source("polygon").fetch("AAPL", "1d", *year)
    assert "still paging after 5 requests (QUANTGATE_MAX_PAGES)" in _one_line(err.value)
    assert len(polygon_fake.data_requests("/v2/aggs")) == 5


def test_geckoterminal_fetch_when_the_server_ignores_before_timestamp_stops_in_one_line(geckoterminal_fake, net_env):
    geckoterminal_fake.add("eth:0xpool", "1h", hourly_crypto(n=200))
    geckoterminal_fake.ignore_before = True
    with pytest.raises(SourceError) as err:
        get_source("geckoterminal").fetch(
            "eth:0xpool", "1h", pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-01-07", tz="UTC")
        )
    assert "not before before_timestamp: the server ignores it" in _one_line(err.value)
    assert len(geckoterminal_fake.data_requests("/ohlcv/hour")) == 1  # the newest page is past the window


def test_ingest_when_retry_after_is_huge_fails_at_once_without_waiting(binance_fake, short_deadlines):
    binance_fake.add("BTCUSDT", "1h", hourly_crypto(n=24 * 10))
    binance_fake.fail("429", match="klines", times=10, retry_after="100000")
    with pytest.raises(SourceError) as err:
        ingest("binance", "BTCUSDT", "1h", START, END)
    assert type(err.value) is SourceError  # permanent: the ingest task does not multiply the wait by retrying
    message = _one_line(err.value)
    assert "HTTP 429: the server asks to wait 100000 s, more than the 1 s cap (QUANTGATE_RETRY_AFTER_MAX)" in message
    assert len(binance_fake.data_requests("klines")) == 1


def test_ingest_when_the_source_sends_a_bar_twice_names_the_timestamp_and_stores_nothing(binance_fake, net_env):
    served = binance_fake.add("BTCUSDT", "1h", hourly_crypto(n=24 * 10))
    binance_fake.duplicate = served.index[30]
    with pytest.raises(SourceError) as err:
        ingest("binance", "BTCUSDT", "1h", START, END)
    assert f"duplicate bar at ts={served.index[30].isoformat()}" in _one_line(err.value)
    assert BarStore().summary().empty


def test_ingest_when_the_ingestion_deadline_has_passed_stops_before_the_next_chunk(
    binance_fake, net_env, monkeypatch: pytest.MonkeyPatch
):
    binance_fake.add("BTCUSDT", "1h", hourly_crypto(n=24 * 10))
    monkeypatch.setenv("QUANTGATE_INGEST_DEADLINE", "0")
    with pytest.raises(SourceError) as err:
        ingest("binance", "BTCUSDT", "1h", START, END, chunk="2D")
    message = _one_line(err.value)
    assert "ingestion stopped at the 0 s ingestion deadline (QUANTGATE_INGEST_DEADLINE) after 0 of 6 chunks" in message
    assert message.endswith("run it again to resume")
    assert binance_fake.data_requests("klines") == []
