"""Symbol and bar helpers every source shares; each source's own notation lives in its module.

quantgate symbols are plain tickers for equities (``AAPL``) and concatenated pairs for crypto
(``BTCUSDT``, ``ETHUSD``); :func:`split_pair` splits a pair, and a source module maps the result to its
own notation (``binance_symbol`` in :mod:`pipeline.sources.binance`, ``coingecko_coin`` in
:mod:`pipeline.sources.coingecko`, ...). When a source has no native bar for a timeframe,
:func:`resample` builds it from a finer one.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pipeline.errors import SourceError
from pipeline.timeframes import BAR_LENGTH, bar_length

#: Quote currencies recognised at the end of a concatenated crypto pair, longest first.
QUOTES: tuple[str, ...] = ("USDT", "USDC", "BUSD", "FDUSD", "USD", "EUR", "BTC", "ETH")


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
