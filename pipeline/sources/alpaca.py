"""Alpaca historical bars through ``alpaca-py`` (``StockHistoricalDataClient`` / ``CryptoHistoricalDataClient``).

The clients are pointed at ``QUANTGATE_ALPACA_DATA_URL`` with ``url_override``. Stocks need
``APCA_API_KEY_ID``/``APCA_API_SECRET_KEY``; crypto bars work without keys. The client's own 429
retry is switched off (it waits a fixed 3 s and ignores Retry-After): transient failures are retried
by :func:`pipeline.sources._common.retrying`, and its session is bounded (page cap, deadlines, body
cap). Daily stock bars (midnight New York) are stamped at midnight UTC of the session.

Stock tickers (``AAPL``) go to the stock endpoint; crypto pairs (``BTCUSD``, ``BTCUSDT``, ``BTC/USD``)
go to the crypto endpoint as ``BASE/QUOTE``, so ``alpaca`` can fill holes of a Binance series.
"""

from __future__ import annotations

import time

import pandas as pd
import requests
import urllib3

from pipeline.sources import symbols
from pipeline.sources._common import (
    PageCounter,
    Permanent,
    Transient,
    clip,
    env_key,
    fail,
    frame_from_rows,
    http_timeout,
    parse_retry_after,
    request_budget,
    retrying,
)
from pipeline.sources._http import read_body
from pipeline.sources.base import BarSource, register_source

ALPACA_TIMEFRAMES: dict[str, tuple[int, str]] = {
    "1m": (1, "Min"),
    "5m": (5, "Min"),
    "15m": (15, "Min"),
    "1h": (1, "Hour"),
    "4h": (4, "Hour"),
    "1d": (1, "Day"),
}


def alpaca_symbol(symbol: str, asset_class: str) -> str:
    """Alpaca notation: ``AAPL`` for stocks, ``BTC/USD`` for crypto."""
    if asset_class == "crypto":
        pair = symbols.split_pair(symbol)
        return f"{pair.base}/{pair.quote}"
    return symbol.upper()


def alpaca_timeframe(timeframe: str) -> tuple[int, str]:
    """Alpaca ``(amount, unit)`` as in ``alpaca.data.timeframe.TimeFrame``."""
    return ALPACA_TIMEFRAMES[timeframe]


class _Session(requests.Session):
    """A session with quantgate's bounds (alpaca-py sets none): page cap, deadlines and body cap.

    Every request counts against ``QUANTGATE_MAX_PAGES`` (the client follows ``next_page_token`` by
    itself), its read timeout shrinks to the time left, and its body is read in chunks and abandoned at
    the request deadline or the size cap.
    """

    pages: PageCounter | None = None

    def request(self, method, url, **kwargs):  # type: ignore[override]
        if self.pages is not None:
            self.pages.tick()
        budget = request_budget()
        until = time.monotonic() + budget
        kwargs["timeout"] = (min(10.0, http_timeout(), budget), min(http_timeout(), budget))
        kwargs["stream"] = True
        response = super().request(method, url, **kwargs)
        try:
            response._content = read_body(response.raw, until, budget)  # what requests stores once a body is read
        except urllib3.exceptions.TimeoutError:
            raise requests.Timeout("read timed out") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:  # truncated body, reset
            raise requests.ConnectionError(exc.__class__.__name__) from None
        return response


@register_source
class AlpacaSource(BarSource):
    """Alpaca market data: stocks (and crypto pairs written ``BASE/QUOTE``)."""

    name = "alpaca"
    asset_class = "equity"
    default_url = "https://data.alpaca.markets"
    url_variable = "QUANTGATE_ALPACA_DATA_URL"
    key_variables = ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY")
    listing_rank = 30

    def _is_crypto(self, symbol: str) -> bool:
        """A pair (``BTC/USD``, or longer than any stock ticker and ending in a quote) is crypto."""
        if "/" in symbol:
            return True
        if len(symbol) <= 5:
            return False
        try:
            symbols.split_pair(symbol)
        except ValueError:
            return False
        return True

    def _client(self, crypto: bool):
        from alpaca.data.historical import CryptoHistoricalDataClient, StockHistoricalDataClient

        key, secret = env_key("APCA_API_KEY_ID"), env_key("APCA_API_SECRET_KEY")
        common = {"url_override": self.base_url(), "raw_data": True}
        if crypto:
            client = CryptoHistoricalDataClient(api_key=key, secret_key=secret, **common)
        else:
            client = StockHistoricalDataClient(api_key=key, secret_key=secret, **common)
        # The data clients take no retry arguments; 0 turns the client's fixed-wait 429 loop off.
        client._retry = 0
        session = _Session()
        session.headers.update(client._session.headers)
        client._session = session
        return client

    def fetch(self, symbol: str, timeframe: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        symbols.check_timeframe(self.name, timeframe)
        crypto = self._is_crypto(symbol)
        try:
            ticker = alpaca_symbol(symbol, "crypto" if crypto else "equity")
        except ValueError as exc:
            raise fail(self.name, symbol, start, end, str(exc)) from None
        if not crypto and (env_key("APCA_API_KEY_ID") is None or env_key("APCA_API_SECRET_KEY") is None):
            raise fail(self.name, symbol, start, end, "APCA_API_KEY_ID and APCA_API_SECRET_KEY must be set")
        client = self._client(crypto)

        def once() -> pd.DataFrame:
            client._session.pages = PageCounter()  # a fresh page count per attempt
            return self._fetch_once(client, crypto, ticker, symbol, timeframe, start, end)

        # In a worker thread: the caller is released at the request deadline even if headers trickle.
        return retrying(once, source=self.name, symbol=symbol, start=start, end=end, in_thread=True)

    def _fetch_once(
        self, client, crypto: bool, ticker: str, symbol: str, timeframe: str, start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame:
        from alpaca.common.exceptions import APIError
        from alpaca.data.requests import CryptoBarsRequest, StockBarsRequest
        from alpaca.data.timeframe import TimeFrame, TimeFrameUnit

        amount, unit = alpaca_timeframe(timeframe)
        frame_tf = TimeFrame(amount, TimeFrameUnit(unit))
        # Daily stock bars are stamped midnight New York: widen so they are not cut off.
        last = end - pd.Timedelta(milliseconds=1)  # the API's end is inclusive, ours is not
        lo, hi = (start, end + pd.Timedelta(hours=6)) if timeframe == "1d" and not crypto else (start, last)
        params = {"symbol_or_symbols": ticker, "timeframe": frame_tf, "start": lo.to_pydatetime(),
                  "end": hi.to_pydatetime()}  # fmt: skip
        try:
            if crypto:
                raw = client.get_crypto_bars(CryptoBarsRequest(**params))
            else:
                raw = client.get_stock_bars(StockBarsRequest(adjustment="all", **params))
        except APIError as exc:
            status = exc.status_code or 0
            if status == 429 or status >= 500:
                headers = getattr(exc.response, "headers", {}) or {}
                raise Transient(f"HTTP {status}", parse_retry_after(headers.get("Retry-After"))) from None
            raise fail(self.name, symbol, start, end, f"HTTP {status}: {_message(exc)}") from None
        except requests.JSONDecodeError:
            raise fail(self.name, symbol, start, end, "malformed payload (response is not JSON)") from None
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise Transient(exc.__class__.__name__) from None
        except requests.RequestException as exc:
            raise Transient(exc.__class__.__name__) from None
        except (ValueError, KeyError, TypeError) as exc:
            raise fail(self.name, symbol, start, end, f"malformed payload ({exc.__class__.__name__})") from None
        if not isinstance(raw, dict):
            raise Permanent(f"malformed payload ({type(raw).__name__}, expected an object of bars by symbol)")
        try:
            bars = raw.get(ticker, [])
            rows = [(b["t"], b["o"], b["h"], b["l"], b["c"], b.get("v")) for b in bars]
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise fail(self.name, symbol, start, end, f"malformed payload ({exc.__class__.__name__})") from None
        frame = frame_from_rows(rows)  # a Permanent here (e.g. a duplicate bar) becomes a SourceError
        if timeframe == "1d" and not crypto:
            frame = symbols.daily_to_session_date(frame)
        return clip(frame, start, end)


def _message(exc: Exception) -> str:
    try:
        return str(exc.message)  # type: ignore[attr-defined]
    except (ValueError, KeyError, TypeError, AttributeError):
        return str(exc)[:120]
