"""GeckoTerminal pool OHLCV through httpx (``/networks/{net}/pools/{address}/ohlcv/{day|hour|minute}``).

Symbols are pools, ``network:address`` (or a pair listed in :data:`symbols.GECKOTERMINAL_POOLS`).
Candles arrive newest first with timestamps in *seconds*; pages of up to 1000 are walked backwards
with ``before_timestamp`` until the window's start is reached.
"""

from __future__ import annotations

import math

import pandas as pd

from pipeline.sources import symbols
from pipeline.sources._common import PageCounter, Permanent, clip, fail, fetch_scope, frame_from_rows, retrying
from pipeline.sources._http import http_get_json
from pipeline.sources.base import BarSource, register_source

#: GeckoTerminal pools for quantgate pairs: ``network:pool_address``.
GECKOTERMINAL_POOLS: dict[str, str] = {
    "ETHUSDC": "eth:0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640",
    "ETHUSDT": "eth:0x4e68ccd3e89f51c3074ca5072bbac773960dfa36",
    "BTCUSDC": "eth:0x99ac8ca7087fa4a2a1fb6357269965a2014abc35",
}

GECKOTERMINAL_TIMEFRAMES: dict[str, tuple[str, int]] = {
    "1m": ("minute", 1),
    "5m": ("minute", 5),
    "15m": ("minute", 15),
    "1h": ("hour", 1),
    "4h": ("hour", 4),
    "1d": ("day", 1),
}


def geckoterminal_pool(symbol: str) -> tuple[str, str]:
    """GeckoTerminal ``(network, pool_address)`` from ``network:address`` or a known pair."""
    spec = GECKOTERMINAL_POOLS.get(symbol.upper().replace("/", ""), symbol)
    if ":" not in spec:
        raise ValueError(f"{symbol!r}: give a GeckoTerminal pool as network:pool_address (e.g. eth:0x88e6...)")
    network, address = spec.split(":", 1)
    return network, address


def geckoterminal_timeframe(timeframe: str) -> tuple[str, int]:
    """GeckoTerminal ``(timeframe, aggregate)``."""
    return GECKOTERMINAL_TIMEFRAMES[timeframe]


PAGE = 1000


@register_source
class GeckoTerminalSource(BarSource):
    """DEX pool candles (volume in USD of the pool, a fraction of the market's)."""

    name = "geckoterminal"
    asset_class = "crypto"
    default_url = "https://api.geckoterminal.com/api/v2"
    url_variable = "QUANTGATE_GECKOTERMINAL_URL"
    key_variables = ()
    listing_rank = 50
    volume_reliable = False

    def fetch(self, symbol: str, timeframe: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        symbols.check_timeframe(self.name, timeframe)
        try:
            network, address = geckoterminal_pool(symbol)
        except ValueError as exc:
            raise fail(self.name, symbol, start, end, str(exc)) from None
        span, aggregate = geckoterminal_timeframe(timeframe)
        url = f"{self.base_url()}/networks/{network}/pools/{address}/ohlcv/{span}"
        rows: dict[int, tuple] = {}
        before = math.ceil(end.timestamp())  # before_timestamp is exclusive, like our end
        start_s = int(start.timestamp())
        pages = PageCounter()
        with fetch_scope():
            while True:
                params = {
                    "aggregate": str(aggregate),
                    "before_timestamp": str(before),
                    "limit": str(PAGE),
                    "currency": "usd",
                }

                def once(params: dict = params) -> list:
                    pages.tick()
                    payload = http_get_json(url, params=params, headers={"accept": "application/json"})
                    try:
                        page = payload["data"]["attributes"]["ohlcv_list"]  # type: ignore[index]
                    except (TypeError, KeyError, IndexError):
                        raise Permanent("malformed payload (no data.attributes.ohlcv_list)") from None
                    if not isinstance(page, list):
                        raise Permanent(f"malformed payload (ohlcv_list is {type(page).__name__}, expected a list)")
                    frame_from_rows(page, unit="s")  # shape, numbers and duplicates within the page
                    return [tuple(r[:6]) for r in page]

                page = retrying(once, source=self.name, symbol=symbol, start=start, end=end)
                for row in page:
                    if row[0] in rows and rows[row[0]] != row:
                        stamp = pd.Timestamp(row[0], unit="s", tz="UTC").isoformat()
                        raise fail(self.name, symbol, start, end, f"two different bars at ts={stamp} on two pages")
                    rows[row[0]] = row
                oldest = min((r[0] for r in page), default=None)
                if oldest is not None and oldest >= before:
                    stamp = pd.Timestamp(oldest, unit="s", tz="UTC").isoformat()
                    reason = f"page reaches back only to {stamp}, not before before_timestamp: the server ignores it"
                    raise fail(self.name, symbol, start, end, reason)
                if oldest is None or oldest <= start_s:
                    break
                before = oldest
        try:
            frame = frame_from_rows(sorted(rows.values()), unit="s")
        except Permanent as exc:
            raise fail(self.name, symbol, start, end, str(exc)) from None
        return clip(frame, start, end)
