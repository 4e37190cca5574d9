"""Binance spot klines through ``python-binance`` (the primary crypto gap filler).

The client has no base-URL argument: it is constructed with ``ping=False`` and pointed at
``QUANTGATE_BINANCE_URL + "/api"`` through its ``API_URL`` attribute. ``get_historical_klines``
pages 1000 klines at a time (it first asks ``limit=1&startTime=0`` for the earliest bar).
Keys (``BINANCE_API_KEY``/``BINANCE_API_SECRET``) are optional for klines.
"""

from __future__ import annotations

import pandas as pd
import requests

from pipeline.sources import symbols
from pipeline.sources._common import (
    Transient,
    base_url,
    clip,
    env_key,
    fail,
    frame_from_rows,
    http_timeout,
    parse_retry_after,
    redact,
    retrying,
)
from pipeline.sources.base import BarSource

#: Binance error codes that mean the request itself is wrong (unknown symbol, bad interval/params).
_PERMANENT_CODES = {-1100, -1101, -1102, -1103, -1104, -1105, -1106, -1111, -1112, -1120, -1121, -1122}


def _ms(ts: pd.Timestamp) -> int:
    return int(pd.Timestamp(ts).value // 1_000_000)


class BinanceSource(BarSource):
    """Spot klines of a Binance pair (``BTCUSDT``)."""

    name = "binance"
    asset_class = "crypto"

    def _client(self):
        from binance.client import Client

        client = Client(
            api_key=env_key("BINANCE_API_KEY"),
            api_secret=env_key("BINANCE_API_SECRET"),
            requests_params={"timeout": http_timeout()},
            ping=False,
        )
        client.API_URL = base_url("binance") + "/api"
        return client

    def fetch(self, symbol: str, timeframe: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        symbols.check_timeframe(self.name, timeframe)
        pair = symbols.binance_symbol(symbol)
        interval = symbols.binance_interval(timeframe)
        client = self._client()

        def once() -> pd.DataFrame:
            return self._fetch_once(client, pair, interval, symbol, start, end)

        try:
            return retrying(once, source=self.name, symbol=symbol, start=start, end=end)
        finally:
            client.close_connection()

    def _fetch_once(
        self, client, pair: str, interval: str, symbol: str, start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame:
        from binance.exceptions import BinanceAPIException, BinanceRequestException

        try:
            klines = client.get_historical_klines(pair, interval, start_str=_ms(start), end_str=_ms(end) - 1)
        except BinanceAPIException as exc:
            status = exc.status_code
            if status in (418, 429) or status >= 500:
                headers = getattr(exc.response, "headers", {}) or {}
                raise Transient(f"HTTP {status}", parse_retry_after(headers.get("Retry-After"))) from None
            reason = f"HTTP {status} (code {exc.code}): {exc.message}"
            if exc.code == -1121:
                reason = f"unknown symbol {pair} (HTTP {status}, code -1121)"
            raise fail(self.name, symbol, start, end, reason) from None
        except BinanceRequestException:
            raise fail(self.name, symbol, start, end, "malformed payload (response is not JSON)") from None
        except IndexError:
            return frame_from_rows([])  # the symbol has no klines at all
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise Transient(f"{exc.__class__.__name__}") from None
        except requests.RequestException as exc:
            raise Transient(redact(f"{exc.__class__.__name__}: {exc}")) from None
        try:
            rows = [(int(k[0]), k[1], k[2], k[3], k[4], k[5]) for k in klines]
            frame = frame_from_rows(rows, unit="ms")
        except (TypeError, ValueError, IndexError, KeyError) as exc:
            raise fail(self.name, symbol, start, end, f"malformed payload ({exc.__class__.__name__})") from None
        return clip(frame, start, end)


SOURCE = BinanceSource
