"""The one place that maps quantgate's symbols and timeframes to each source's notation.

quantgate symbols are plain tickers for equities (``AAPL``) and concatenated pairs for crypto
(``BTCUSDT``, ``ETHUSD``); a source may also be given its own notation verbatim (``BTC/USD`` for
Alpaca, ``bitcoin`` for CoinGecko, ``eth:0xPOOL`` for GeckoTerminal). When a source has no native
bar for a timeframe, :func:`resample` builds it from a finer one.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pipeline.errors import SourceError
from pipeline.timeframes import BAR_LENGTH, bar_length

#: Quote currencies recognised at the end of a concatenated crypto pair, longest first.
QUOTES: tuple[str, ...] = ("USDT", "USDC", "BUSD", "FDUSD", "USD", "EUR", "BTC", "ETH")

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

#: GeckoTerminal pools for quantgate pairs: ``network:pool_address``.
GECKOTERMINAL_POOLS: dict[str, str] = {
    "ETHUSDC": "eth:0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640",
    "ETHUSDT": "eth:0x4e68ccd3e89f51c3074ca5072bbac773960dfa36",
    "BTCUSDC": "eth:0x99ac8ca7087fa4a2a1fb6357269965a2014abc35",
}

BINANCE_INTERVALS: dict[str, str] = {"1m": "1m", "5m": "5m", "15m": "15m", "1h": "1h", "4h": "4h", "1d": "1d"}
POLYGON_SPANS: dict[str, tuple[int, str]] = {
    "1m": (1, "minute"),
    "5m": (5, "minute"),
    "15m": (15, "minute"),
    "1h": (1, "hour"),
    "4h": (4, "hour"),
    "1d": (1, "day"),
}
ALPACA_TIMEFRAMES: dict[str, tuple[int, str]] = {
    "1m": (1, "Min"),
    "5m": (5, "Min"),
    "15m": (15, "Min"),
    "1h": (1, "Hour"),
    "4h": (4, "Hour"),
    "1d": (1, "Day"),
}
GECKOTERMINAL_TIMEFRAMES: dict[str, tuple[str, int]] = {
    "1m": ("minute", 1),
    "5m": ("minute", 5),
    "15m": ("minute", 15),
    "1h": ("hour", 1),
    "4h": ("hour", 4),
    "1d": ("day", 1),
}


@dataclass(frozen=True)
class Pair:
    """A crypto pair split into base and quote asset."""

    base: str
    quote: str


def split_pair(symbol: str) -> Pair:
    """Split ``BTCUSDT``/``BTC/USD``/``BTC-USD`` into base and quote (ValueError when it is not a pair)."""
    cleaned = symbol.upper().strip()
    for sep in ("/", "-", "_"):
        if sep in cleaned:
            base, quote = cleaned.split(sep, 1)
            if base and quote:
                return Pair(base, quote)
    for quote in QUOTES:
        if cleaned.endswith(quote) and len(cleaned) > len(quote):
            return Pair(cleaned[: -len(quote)], quote)
    raise ValueError(f"{symbol!r} is not a crypto pair such as BTCUSDT or BTC/USD")


def check_timeframe(source: str, timeframe: str) -> None:
    """Raise :class:`SourceError` for a timeframe quantgate does not know."""
    if timeframe not in BAR_LENGTH:
        raise SourceError(f"{source}: unknown timeframe {timeframe!r}; expected one of {', '.join(BAR_LENGTH)}")


def binance_symbol(symbol: str) -> str:
    """Binance notation: ``BTCUSDT`` (separators removed, upper case)."""
    return symbol.upper().replace("/", "").replace("-", "").replace("_", "")


def binance_interval(timeframe: str) -> str:
    """Binance kline interval."""
    return BINANCE_INTERVALS[timeframe]


def polygon_ticker(symbol: str, asset_class: str = "equity") -> str:
    """Polygon ticker: ``AAPL`` for stocks, ``X:BTCUSD`` for crypto pairs."""
    if asset_class == "crypto" and not symbol.upper().startswith("X:"):
        pair = split_pair(symbol)
        quote = "USD" if pair.quote in ("USDT", "USDC", "BUSD", "FDUSD") else pair.quote
        return f"X:{pair.base}{quote}"
    return symbol.upper()


def polygon_span(timeframe: str) -> tuple[int, str]:
    """Polygon ``(multiplier, timespan)``."""
    return POLYGON_SPANS[timeframe]


def alpaca_symbol(symbol: str, asset_class: str) -> str:
    """Alpaca notation: ``AAPL`` for stocks, ``BTC/USD`` for crypto."""
    if asset_class == "crypto":
        pair = split_pair(symbol)
        return f"{pair.base}/{pair.quote}"
    return symbol.upper()


def alpaca_timeframe(timeframe: str) -> tuple[int, str]:
    """Alpaca ``(amount, unit)`` as in ``alpaca.data.timeframe.TimeFrame``."""
    return ALPACA_TIMEFRAMES[timeframe]


def coingecko_coin(symbol: str) -> tuple[str, str]:
    """CoinGecko ``(coin_id, vs_currency)``; a lower-case symbol is taken as a coin id vs USD."""
    if symbol == symbol.lower() and "/" not in symbol:
        return symbol, "usd"
    pair = split_pair(symbol)
    coin = COINGECKO_IDS.get(pair.base)
    if coin is None:
        raise ValueError(f"no CoinGecko coin id known for {pair.base}; pass the coin id (e.g. bitcoin) instead")
    quote = "usd" if pair.quote in ("USD", "USDT", "USDC", "BUSD", "FDUSD") else pair.quote.lower()
    return coin, quote


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


def coingecko_days(lookback: pd.Timedelta) -> tuple[int, pd.Timedelta]:
    """Smallest ``days`` value reaching back ``lookback``, and its candle length."""
    for days, candle in COINGECKO_DAYS:
        if pd.Timedelta(days=days) >= lookback:
            return days, candle
    return COINGECKO_DAYS[-1]


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


def daily_to_session_date(frame: pd.DataFrame, tz: str = "America/New_York") -> pd.DataFrame:
    """Stamp daily equity bars at midnight UTC of their session date (Polygon/Alpaca use midnight ET)."""
    if frame.empty:
        return frame
    local = frame.index.tz_convert(tz)
    dates = pd.DatetimeIndex(local.tz_localize(None).normalize()).tz_localize("UTC").rename("ts")
    out = frame.copy()
    out.index = dates
    return out[~out.index.duplicated(keep="last")]


def resample(frame: pd.DataFrame, timeframe: str, *, complete_only: bool = True) -> pd.DataFrame:
    """Aggregate finer canonical bars into ``timeframe`` bars stamped at their open.

    Open is the first open, high the max, low the min, close the last close, volume the sum (NaN
    when every input volume is NaN). With ``complete_only`` a bar is kept only when every finer bar
    it spans is present, so a hole is never hidden inside a coarser bar.
    """
    target = bar_length(timeframe)
    if frame.empty:
        return frame.copy()
    index = pd.DatetimeIndex(frame.index)
    step = pd.Series(index[1:] - index[:-1]).min() if len(index) > 1 else target
    grouped = frame.groupby(index.floor(target))
    out = pd.DataFrame(
        {
            "open": grouped["open"].first(),
            "high": grouped["high"].max(),
            "low": grouped["low"].min(),
            "close": grouped["close"].last(),
            "volume": grouped["volume"].sum(min_count=1),
        }
    )
    if complete_only and step < target:
        needed = int(target / step)
        out = out[grouped["close"].count() >= needed]
    out.index = pd.DatetimeIndex(out.index, name="ts")
    return out.astype("float64")
