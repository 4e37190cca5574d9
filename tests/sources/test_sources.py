"""Each source through its official client (or httpx) against a local fake speaking the real wire format."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.errors import SourceError
from pipeline.sources import get_source, symbols
from pipeline.sources.alpaca import alpaca_symbol, alpaca_timeframe
from pipeline.sources.binance import binance_symbol
from pipeline.sources.coingecko import coingecko_coin
from pipeline.sources.geckoterminal import geckoterminal_pool
from pipeline.sources.polygon import polygon_span, polygon_ticker
from tests.fakes.fixtures import hourly_crypto, punch
from tests.stubs import random_walk_bars, sample_bars


def _utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


YEAR = (_utc("2010-01-01"), _utc("2011-01-01"))  # half-open [start, end)


# -- polygon -------------------------------------------------------------------------------------
def test_polygon_fetch_when_paginated_returns_every_daily_bar_at_its_session_date(polygon_fake):
    served = polygon_fake.add("AAPL", "1d", sample_bars("AAPL", "2010-01-01", "2010-12-31"))
    bars = get_source("polygon").fetch("AAPL", "1d", *YEAR)
    pd.testing.assert_frame_equal(bars, served, check_freq=False)
    assert len(polygon_fake.data_requests("/v2/aggs")) == 7  # 252 bars in pages of 40 via next_url


@pytest.mark.parametrize("kind", ["429", "500", "502", "timeout", "truncate", "reset"])
def test_polygon_fetch_when_a_transient_failure_is_scripted_retries_to_the_full_answer(polygon_fake, kind):
    served = polygon_fake.add("AAPL", "1d", sample_bars("AAPL", "2010-01-01", "2010-12-31"))
    polygon_fake.fail(kind, after=2)  # on the third page
    bars = get_source("polygon").fetch("AAPL", "1d", *YEAR)
    pd.testing.assert_frame_equal(bars, served, check_freq=False)


@pytest.mark.parametrize(("kind", "expected"), [("garbage", "malformed payload"), ("401", "Unknown API Key")])
def test_polygon_fetch_when_a_page_is_bad_fails_fast_in_one_line(polygon_fake, kind, expected):
    polygon_fake.add("AAPL", "1d", sample_bars("AAPL", "2010-01-01", "2010-12-31"))
    polygon_fake.fail(kind, after=3)
    with pytest.raises(SourceError) as err:
        get_source("polygon").fetch("AAPL", "1d", *YEAR)
    message = str(err.value)
    assert message.startswith("polygon: AAPL [2010-01-01, 2011-01-01): ")
    assert expected in message and "\n" not in message
    assert polygon_fake.api_key not in message


def test_polygon_fetch_when_the_key_is_wrong_names_source_symbol_window_but_not_the_key(polygon_fake, monkeypatch):
    monkeypatch.setenv("POLYGON_API_KEY", "wrong-secret-key-42")
    polygon_fake.add("AAPL", "1d", sample_bars("AAPL", "2010-01-01", "2010-12-31"))
    with pytest.raises(SourceError, match=r"polygon: AAPL .*Unknown API Key") as err:
        get_source("polygon").fetch("AAPL", "1d", *YEAR)
    assert "wrong-secret-key-42" not in str(err.value)


def test_polygon_fetch_when_the_ticker_is_unknown_returns_no_bars(polygon_fake):
    assert get_source("polygon").fetch("NOPE", "1d", *YEAR).empty


# -- alpaca ---------------------------------------------------------------------------------------
def test_alpaca_fetch_when_paginated_returns_stock_and_crypto_bars(alpaca_fake):
    stocks = alpaca_fake.add("AAPL", "1d", sample_bars("AAPL", "2010-01-01", "2010-12-31"))
    crypto = alpaca_fake.add("BTC/USD", "1h", hourly_crypto(n=100))
    source = get_source("alpaca")
    pd.testing.assert_frame_equal(source.fetch("AAPL", "1d", *YEAR), stocks, check_freq=False)
    got = source.fetch("BTCUSD", "1h", _utc("2024-01-01"), _utc("2024-01-05 04:00"))
    pd.testing.assert_frame_equal(got, crypto, check_freq=False)
    assert {r.path for r in alpaca_fake.requests} == {"/v2/stocks/bars", "/v1beta3/crypto/us/bars"}


@pytest.mark.parametrize("kind", ["429", "500", "timeout", "truncate", "reset"])
def test_alpaca_fetch_when_a_transient_failure_is_scripted_retries(alpaca_fake, kind):
    served = alpaca_fake.add("AAPL", "1d", sample_bars("AAPL", "2010-01-01", "2010-12-31"))
    alpaca_fake.fail(kind, after=1)
    pd.testing.assert_frame_equal(get_source("alpaca").fetch("AAPL", "1d", *YEAR), served, check_freq=False)


def test_alpaca_fetch_when_unauthorised_fails_in_one_line_without_keys(alpaca_fake, monkeypatch):
    monkeypatch.setenv("APCA_API_SECRET_KEY", "not-the-secret-77")
    with pytest.raises(SourceError, match=r"alpaca: AAPL \[2010-01-01, 2011-01-01\): HTTP 401") as err:
        get_source("alpaca").fetch("AAPL", "1d", *YEAR)
    assert "not-the-secret-77" not in str(err.value)


# -- coingecko ------------------------------------------------------------------------------------
def _recent(freq: str, n: int) -> pd.DataFrame:
    length = pd.Timedelta(freq.replace("m", "min"))
    last_close = pd.Timestamp.now(tz="UTC").floor(length)
    first_open = last_close - n * length
    return random_walk_bars(n, start=str(first_open.tz_localize(None)), freq=length, seed=3).assign(volume=float("nan"))


def test_coingecko_fetch_when_candles_are_stamped_at_close_stores_them_at_open(coingecko_fake):
    served = coingecko_fake.add("bitcoin", "4h", _recent("4h", 6 * 20))
    start = served.index[-60]
    bars = get_source("coingecko").fetch("BTCUSD", "4h", start, served.index[-1] + pd.Timedelta(hours=4))
    pd.testing.assert_frame_equal(bars, served.loc[start:], check_freq=False)
    assert bars["volume"].isna().all()
    assert coingecko_fake.requests[0].query == {"vs_currency": "usd", "days": "14"}


def test_coingecko_fetch_when_1h_is_asked_resamples_30_minute_candles(coingecko_fake):
    half_hours = coingecko_fake.add("ethereum", "30m", _recent("30m", 40))
    start = half_hours.index[0].ceil("1h")
    bars = get_source("coingecko").fetch("ETHUSDT", "1h", start, half_hours.index[-1] + pd.Timedelta(minutes=30))
    expected = symbols.resample(half_hours.loc[start:], "1h")
    pd.testing.assert_frame_equal(bars, expected, check_freq=False)


def test_coingecko_fetch_when_the_coin_is_unknown_or_rate_limited(coingecko_fake):
    coingecko_fake.add("bitcoin", "4h", _recent("4h", 30))
    source = get_source("coingecko")
    now = pd.Timestamp.now(tz="UTC")
    with pytest.raises(SourceError, match=r"coingecko: nosuchcoin .*unknown symbol"):
        source.fetch("nosuchcoin", "4h", now - pd.Timedelta(days=3), now)
    coingecko_fake.fail("429", retry_after="0")
    coingecko_fake.fail("garbage")
    with pytest.raises(SourceError, match="malformed payload"):
        source.fetch("BTCUSD", "4h", now - pd.Timedelta(days=3), now)


# -- geckoterminal --------------------------------------------------------------------------------
def test_geckoterminal_fetch_when_paged_backwards_returns_the_window(geckoterminal_fake):
    served = geckoterminal_fake.add(
        "eth:0xpool", "1h", punch(hourly_crypto(n=200), ("2024-01-03 00:00", "2024-01-03 01:00"))
    )
    geckoterminal_fake.fail("500")
    bars = get_source("geckoterminal").fetch("eth:0xpool", "1h", _utc("2024-01-02"), _utc("2024-01-07"))
    pd.testing.assert_frame_equal(bars, served.loc["2024-01-02":"2024-01-06 23:00"], check_freq=False)
    assert len(geckoterminal_fake.data_requests("/ohlcv/hour")) >= 3  # 118 bars in pages of 50


def test_geckoterminal_fetch_when_the_pool_is_unknown_fails_in_one_line(geckoterminal_fake):
    with pytest.raises(SourceError, match=r"geckoterminal: eth:0xnope \[2024-01-02, 2024-01-03\): unknown symbol"):
        get_source("geckoterminal").fetch("eth:0xnope", "1h", _utc("2024-01-02"), _utc("2024-01-03"))


# -- mapping --------------------------------------------------------------------------------------
def test_symbol_mapping_when_given_quantgate_symbols_returns_each_source_notation():
    assert binance_symbol("BTC/USDT") == "BTCUSDT"
    assert polygon_ticker("BTCUSDT", "crypto") == "X:BTCUSD"
    assert alpaca_symbol("ETHUSD", "crypto") == "ETH/USD"
    assert coingecko_coin("BTCUSDT") == ("bitcoin", "usd")
    assert geckoterminal_pool("eth:0xabc") == ("eth", "0xabc")
    assert polygon_span("4h") == (4, "hour")
    assert alpaca_timeframe("15m") == (15, "Min")


def test_resample_when_a_fine_bar_is_missing_drops_the_coarse_bar():
    fine = random_walk_bars(8, start="2024-01-01", freq="30min")
    coarse = symbols.resample(fine.drop(fine.index[3]), "1h")
    assert list(coarse.index.hour) == [0, 2, 3]
    assert coarse.loc["2024-01-01 00:00", "high"] == fine.iloc[:2]["high"].max()
    assert coarse.loc["2024-01-01 00:00", "volume"] == fine.iloc[:2]["volume"].sum()
