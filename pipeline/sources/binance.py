"""Binance spot klines over its public REST API (``GET /api/v3/klines``), paged by ``startTime``.

Requests go to ``QUANTGATE_BINANCE_URL`` (default ``https://api.binance.com``) through
:func:`pipeline.sources._http.http_get_json`, so each one is bounded by the request deadline and the
body size cap. Pages of up to 1000 klines are walked forward from the window's start; the walk stops
when a page is short or reaches the window's end, and fails in one line when a page does not advance
(a server ignoring ``startTime``) or the page cap is reached. ``BINANCE_API_KEY`` is optional for klines
and sent as ``X-MBX-APIKEY`` when set. 418 (IP ban) and 429 are transient and honour ``Retry-After``
up to its cap.
"""

from __future__ import annotations

import math

import pandas as pd

from pipeline.sources import symbols
from pipeline.sources._common import Permanent, clip, env_key, fail, fetch_scope, frame_from_rows, max_pages, retrying
from pipeline.sources._http import decode_json, http_get, raise_for_transient
from pipeline.sources.base import BarSource, register_source
from pipeline.timeframes import bar_length

BINANCE_INTERVALS: dict[str, str] = {"1m": "1m", "5m": "5m", "15m": "15m", "1h": "1h", "4h": "4h", "1d": "1d"}


def binance_symbol(symbol: str) -> str:
    """Binance notation: ``BTCUSDT`` (separators removed, upper case)."""
    return symbol.upper().replace("/", "").replace("-", "").replace("_", "")


def binance_interval(timeframe: str) -> str:
    """Binance kline interval."""
    return BINANCE_INTERVALS[timeframe]


#: Klines per page (Binance's maximum).
PAGE = 1000
#: Binance error codes that mean the request itself is wrong (unknown symbol, bad interval/params).
_UNKNOWN_SYMBOL = -1121


def _ms(ts: pd.Timestamp) -> int:
    return int(pd.Timestamp(ts).value // 1_000_000)


def _klines(url: str, params: dict, headers: dict) -> list:
    """One page of klines, or a one-line :class:`Permanent`/:class:`Transient` saying what arrived instead."""
    status, response_headers, body = http_get(url, params=params, headers=headers)
    raise_for_transient(status, response_headers)
    payload = decode_json(body)
    if status != 200 or isinstance(payload, dict):
        error = payload if isinstance(payload, dict) else {}
        code, message = error.get("code"), error.get("msg")
        if code == _UNKNOWN_SYMBOL:
            raise Permanent(f"unknown symbol {params['symbol']} (HTTP {status}, code {code})")
        if status != 200 or code is not None or message is not None:
            raise Permanent(f"HTTP {status} (code {code}): {str(message)[:100]}")
        raise Permanent(f"malformed payload (a JSON object with keys {', '.join(list(payload)[:5]) or 'none'}, "
                        "expected a list of klines)")  # fmt: skip
    if not isinstance(payload, list):
        raise Permanent(f"malformed payload ({type(payload).__name__}, expected a list of klines)")
    return payload


@register_source
class BinanceSource(BarSource):
    """Spot klines of a Binance pair (``BTCUSDT``)."""

    name = "binance"
    asset_class = "crypto"
    default_url = "https://api.binance.com"
    url_variable = "QUANTGATE_BINANCE_URL"
    key_variables = ("BINANCE_API_KEY", "BINANCE_API_SECRET")
    listing_rank = 20

    def fetch(self, symbol: str, timeframe: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        symbols.check_timeframe(self.name, timeframe)
        pair = binance_symbol(symbol)
        interval = binance_interval(timeframe)
        length = bar_length(timeframe)
        url = self.base_url() + "/api/v3/klines"
        key = env_key("BINANCE_API_KEY")
        headers = {"X-MBX-APIKEY": key} if key else {}
        cap = min(max_pages(), math.ceil((end - start) / length / PAGE) + 2)
        rows: list = []
        cursor = start
        with fetch_scope():
            for page_number in range(cap + 1):
                if cursor >= end:
                    break
                if page_number == cap:
                    reason = f"still paging after {cap} pages of {PAGE} klines for a window of this length"
                    raise fail(self.name, symbol, start, end, f"{reason} (QUANTGATE_MAX_PAGES)")
                params = {"symbol": pair, "interval": interval, "startTime": str(_ms(cursor)),
                          "endTime": str(_ms(end) - 1), "limit": str(PAGE)}  # fmt: skip

                def once(params: dict = params) -> list:
                    return _klines(url, params, headers)

                page = retrying(once, source=self.name, symbol=symbol, start=start, end=end)
                if not page:
                    break
                try:
                    part = frame_from_rows(page, unit="ms")
                except Permanent as exc:
                    raise fail(self.name, symbol, start, end, str(exc)) from None
                if part.index[0] < cursor:
                    reason = (
                        f"page starts at {part.index[0].isoformat()}, before the requested startTime "
                        f"{cursor.isoformat()}: the server ignores startTime"
                    )
                    raise fail(self.name, symbol, start, end, reason)
                rows.extend(page)
                if len(page) < PAGE:
                    break
                cursor = part.index[-1] + length
        try:
            frame = frame_from_rows(rows, unit="ms")
        except Permanent as exc:
            raise fail(self.name, symbol, start, end, str(exc)) from None
        return clip(frame, start, end)
