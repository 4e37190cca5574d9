"""CoinGecko ``/coins/{id}/ohlc`` through httpx.

CoinGecko picks the candle from ``days`` (1-2 days: 30 minutes, 3-30 days: 4 hours, beyond: 4 days),
counts back from *now*, reports no volume, and stamps each candle at its *close*: bars are moved to
their open time and the volume is NaN. ``4h`` is native; ``1h`` is resampled from 30-minute candles
(last 2 days only) and ``1d`` from 4-hour candles (last 30 days). Finer timeframes are not available.
``COINGECKO_API_KEY`` (optional) is sent as the demo-key header. Volume is absent: ``volume_reliable``
is False.
"""

from __future__ import annotations

import pandas as pd

from pipeline.sources import symbols
from pipeline.sources._common import (
    Permanent,
    base_url,
    clip,
    env_key,
    fail,
    frame_from_rows,
    http_get_json,
    retrying,
)
from pipeline.sources.base import BarSource

#: quantgate timeframe -> (candle to ask for, longest lookback in days that candle is served for).
_PLAN: dict[str, tuple[pd.Timedelta, int]] = {
    "1h": (pd.Timedelta(minutes=30), 1),
    "4h": (pd.Timedelta(hours=4), 30),
    "1d": (pd.Timedelta(hours=4), 30),
}


class CoinGeckoSource(BarSource):
    """OHLC (no volume) of a coin against a currency (``BTCUSD`` -> ``bitcoin``/``usd``)."""

    name = "coingecko"
    asset_class = "crypto"
    volume_reliable = False

    def fetch(self, symbol: str, timeframe: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        symbols.check_timeframe(self.name, timeframe)
        if timeframe not in _PLAN:
            raise fail(self.name, symbol, start, end, f"no {timeframe} candles (CoinGecko serves 1h, 4h, 1d)")
        try:
            coin, currency = symbols.coingecko_coin(symbol)
        except ValueError as exc:
            raise fail(self.name, symbol, start, end, str(exc)) from None
        candle, max_days = _PLAN[timeframe]
        lookback = pd.Timestamp.now(tz="UTC") - start
        days, served = symbols.coingecko_days(lookback)
        if days > max_days or served != candle:
            raise fail(
                self.name, symbol, start, end,
                f"{timeframe} bars reach back only {max_days} day(s) on /ohlc; use another source for older bars",
            )  # fmt: skip
        headers = {"accept": "application/json"}
        key = env_key("COINGECKO_API_KEY")
        if key:
            headers["x-cg-demo-api-key"] = key
        url = f"{base_url('coingecko')}/coins/{coin}/ohlc"
        params = {"vs_currency": currency, "days": str(days)}

        def once() -> pd.DataFrame:
            payload = http_get_json(url, params=params, headers=headers)
            if not isinstance(payload, list):
                raise Permanent("malformed payload (expected a list of [ts, o, h, l, c])")
            for n, row in enumerate(payload):
                if not isinstance(row, list) or len(row) < 5:
                    raise Permanent(f"malformed payload (row {n} is not a list of [ts, o, h, l, c])")
            return frame_from_rows([[*row[:5], None] for row in payload], unit="ms")

        frame = retrying(once, source=self.name, symbol=symbol, start=start, end=end)
        frame.index = pd.DatetimeIndex(frame.index - candle, name="ts")  # close time -> open time
        if candle != pd.Timedelta(timeframe.replace("m", "min")) and not frame.empty:
            frame = symbols.resample(frame, timeframe)
        return clip(frame, start, end)


SOURCE = CoinGeckoSource
