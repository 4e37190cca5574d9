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
from pipeline.sources._common import Permanent, clip, env_key, fail, frame_from_rows, retrying
from pipeline.sources._http import http_get_json
from pipeline.sources.base import BarSource, register_source

#: CoinGecko coin ids of common base assets.
COINGECKO_IDS: dict[str, str] = {
    "BTC": "bitcoin",
    "ETH": "ethereum",
    "SOL": "solana",
    "BNB": "binancecoin",
    "XRP": "ripple",
    "ADA": "cardano",
    "DOGE": "dogecoin",
    "AVAX": "avalanche-2",
    "DOT": "polkadot",
    "LINK": "chainlink",
    "LTC": "litecoin",
    "MATIC": "matic-network",
}

#: CoinGecko ``/ohlc`` ``days`` values and the candle each returns (auto granularity).
COINGECKO_DAYS: tuple[tuple[int, pd.Timedelta], ...] = (
    (1, pd.Timedelta(minutes=30)),
    (7, pd.Timedelta(hours=4)),
    (14, pd.Timedelta(hours=4)),
    (30, pd.Timedelta(hours=4)),
    (90, pd.Timedelta(days=4)),
    (180, pd.Timedelta(days=4)),
    (365, pd.Timedelta(days=4)),
)


def coingecko_coin(symbol: str) -> tuple[str, str]:
    """CoinGecko ``(coin_id, vs_currency)``; a lower-case symbol is taken as a coin id vs USD."""
    if symbol == symbol.lower() and "/" not in symbol:
        return symbol, "usd"
    pair = symbols.split_pair(symbol)
    coin = COINGECKO_IDS.get(pair.base)
    if coin is None:
        raise ValueError(f"no CoinGecko coin id known for {pair.base}; pass the coin id (e.g. bitcoin) instead")
    quote = "usd" if pair.quote in ("USD", "USDT", "USDC", "BUSD", "FDUSD") else pair.quote.lower()
    return coin, quote


def coingecko_days(lookback: pd.Timedelta) -> tuple[int, pd.Timedelta]:
    """Smallest ``days`` value reaching back ``lookback``, and its candle length."""
    for days, candle in COINGECKO_DAYS:
        if pd.Timedelta(days=days) >= lookback:
            return days, candle
    return COINGECKO_DAYS[-1]


#: quantgate timeframe -> (candle to ask for, longest lookback in days that candle is served for).
_PLAN: dict[str, tuple[pd.Timedelta, int]] = {
    "1h": (pd.Timedelta(minutes=30), 1),
    "4h": (pd.Timedelta(hours=4), 30),
    "1d": (pd.Timedelta(hours=4), 30),
}


@register_source
class CoinGeckoSource(BarSource):
    """OHLC (no volume) of a coin against a currency (``BTCUSD`` -> ``bitcoin``/``usd``)."""

    name = "coingecko"
    asset_class = "crypto"
    default_url = "https://api.coingecko.com/api/v3"
    url_variable = "QUANTGATE_COINGECKO_URL"
    key_variables = ("COINGECKO_API_KEY",)
    listing_rank = 40
    volume_reliable = False

    def fetch(self, symbol: str, timeframe: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        symbols.check_timeframe(self.name, timeframe)
        if timeframe not in _PLAN:
            raise fail(self.name, symbol, start, end, f"no {timeframe} candles (CoinGecko serves 1h, 4h, 1d)")
        try:
            coin, currency = coingecko_coin(symbol)
        except ValueError as exc:
            raise fail(self.name, symbol, start, end, str(exc)) from None
        candle, max_days = _PLAN[timeframe]
        lookback = pd.Timestamp.now(tz="UTC") - start
        days, served = coingecko_days(lookback)
        if days > max_days or served != candle:
            raise fail(
                self.name, symbol, start, end,
                f"{timeframe} bars reach back only {max_days} day(s) on /ohlc; use another source for older bars",
            )  # fmt: skip
        headers = {"accept": "application/json"}
        key = env_key("COINGECKO_API_KEY")
        if key:
            headers["x-cg-demo-api-key"] = key
        url = f"{self.base_url()}/coins/{coin}/ohlc"
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
