"""The embedded source: real, public-domain daily OHLCV shipped in the ``bokeh-sampledata`` package.

AAPL, IBM and MSFT cover 2000-03-01..2013-03-01, GOOG 2004-08-19..2013-03-01 (Quandl WIKI prices).
Open/high/low/close are split- and dividend-adjusted with the source's ``adj_close`` factor (volume
scaled inversely), so a split is not a crash. No network is used.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from pipeline.errors import SourceError
from pipeline.sources.base import BarSource, register_source
from pipeline.window import Window

SYMBOLS: tuple[str, ...] = ("AAPL", "IBM", "MSFT", "GOOG")


@functools.lru_cache(maxsize=len(SYMBOLS))
def _adjusted(symbol: str) -> pd.DataFrame:
    import bokeh_sampledata.stocks as stocks

    raw = getattr(stocks, symbol)
    frame = pd.DataFrame(
        {key: raw[key] for key in ("open", "high", "low", "close", "volume", "adj_close")},
        index=pd.DatetimeIndex(pd.to_datetime(raw["date"]), name="ts").tz_localize("UTC"),
    )
    factor = frame["adj_close"] / frame["close"]
    out = pd.DataFrame(index=frame.index)
    for column in ("open", "high", "low", "close"):
        out[column] = (frame[column] * factor).astype("float64")
    out["volume"] = (frame["volume"] / factor).astype("float64")
    out = out[~out.index.duplicated(keep="first")].sort_index()
    return out.replace([np.inf, -np.inf], np.nan)


@register_source
class SampleSource(BarSource):
    """Daily equity bars from bokeh-sampledata."""

    name = "sample"
    asset_class = "equity"
    listing_rank = 0

    def fetch(self, symbol: str, timeframe: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        window = str(Window(start, end))
        if symbol not in SYMBOLS:
            raise SourceError(f"sample: unknown symbol {symbol} ({window}); the sample source has {', '.join(SYMBOLS)}")
        if timeframe != "1d":
            raise SourceError(f"sample: {symbol} {timeframe} ({window}): the sample source has daily bars only")
        frame = _adjusted(symbol)
        return Window(start, end).clip(frame).copy()

    def symbols(self) -> list[str]:
        return list(SYMBOLS)
