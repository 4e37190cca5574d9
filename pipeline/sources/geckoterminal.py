"""GeckoTerminal pool OHLCV through httpx (``/networks/{net}/pools/{address}/ohlcv/{day|hour|minute}``).

Symbols are pools, ``network:address`` (or a pair listed in :data:`symbols.GECKOTERMINAL_POOLS`).
Candles arrive newest first with timestamps in *seconds*; pages of up to 1000 are walked backwards
with ``before_timestamp`` until the window's start is reached.
"""

from __future__ import annotations

import math

import pandas as pd

from pipeline.sources import symbols
from pipeline.sources._common import (
    PageCounter,
    Permanent,
    base_url,
    clip,
    fail,
    fetch_scope,
    frame_from_rows,
    http_get_json,
    retrying,
)
from pipeline.sources.base import BarSource

PAGE = 1000


class GeckoTerminalSource(BarSource):
    """DEX pool candles (volume in USD of the pool, a fraction of the market's)."""

    name = "geckoterminal"
    asset_class = "crypto"
    volume_reliable = False

    def fetch(self, symbol: str, timeframe: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        symbols.check_timeframe(self.name, timeframe)
        try:
            network, address = symbols.geckoterminal_pool(symbol)
        except ValueError as exc:
            raise fail(self.name, symbol, start, end, str(exc)) from None
        span, aggregate = symbols.geckoterminal_timeframe(timeframe)
        url = f"{base_url('geckoterminal')}/networks/{network}/pools/{address}/ohlcv/{span}"
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


SOURCE = GeckoTerminalSource
