"""Trend: distance from moving averages, MACD, regression slope and the efficiency ratio."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.features.groups import _last
from pipeline.features.groups._ops import check_windows, log_price, rolling_slope
from pipeline.features.registry import BarArrays, feature_group, feature_last_row


@feature_group(
    "trend",
    warmup=lambda p: max(p["fast"], p["slow"], p["macd_slow"] + p["macd_signal"], p["slope_window"] + 1),
)
def trend(
    bars: pd.DataFrame,
    fast: int = 10,
    slow: int = 50,
    macd_fast: int = 12,
    macd_slow: int = 26,
    macd_signal: int = 9,
    slope_window: int = 20,
) -> pd.DataFrame:
    """Compute trend-following features from trailing averages of the close.

    Columns: ``trend_sma_ratio_<fast>``, ``trend_sma_ratio_<slow>`` (log close over its SMA),
    ``trend_sma_cross_<fast>_<slow>`` (log fast SMA over slow SMA), ``trend_macd`` and ``trend_macd_hist``
    (scaled by the close), ``trend_slope_<w>`` (least-squares slope of log close per bar) and
    ``trend_efficiency_<w>`` (net move over path length, in [0, 1]).
    """
    check_windows(fast=fast, slow=slow, macd_fast=macd_fast, macd_slow=macd_slow, macd_signal=macd_signal)
    check_windows(slope_window=slope_window)
    close = bars["close"]
    log_close = log_price(close)
    sma_fast = close.rolling(fast, min_periods=fast).mean()
    sma_slow = close.rolling(slow, min_periods=slow).mean()
    ema_fast = close.ewm(span=macd_fast, min_periods=macd_fast, adjust=False).mean()
    ema_slow = close.ewm(span=macd_slow, min_periods=macd_slow, adjust=False).mean()
    macd = (ema_fast - ema_slow) / close
    signal = macd.ewm(span=macd_signal, min_periods=macd_signal, adjust=False).mean()
    path = log_close.diff().abs().rolling(slope_window, min_periods=slope_window).sum()
    out = {
        f"trend_sma_ratio_{fast}": log_close - log_price(sma_fast),
        f"trend_sma_ratio_{slow}": log_close - log_price(sma_slow),
        f"trend_sma_cross_{fast}_{slow}": log_price(sma_fast) - log_price(sma_slow),
        "trend_macd": macd,
        "trend_macd_hist": macd - signal,
        f"trend_slope_{slope_window}": rolling_slope(log_close, slope_window),
        f"trend_efficiency_{slope_window}": log_close.diff(slope_window).abs() / path,
    }
    return pd.DataFrame(out, index=bars.index)


@feature_last_row("trend")
def trend_last(
    bars: BarArrays, fast: int, slow: int, macd_fast: int, macd_slow: int, macd_signal: int, slope_window: int
) -> dict[str, float]:
    """The last row of :func:`trend` (exact, see :mod:`._last`)."""
    check_windows(fast=fast, slow=slow, macd_fast=macd_fast, macd_slow=macd_slow, macd_signal=macd_signal)
    check_windows(slope_window=slope_window)
    close = bars.close
    log_close = _last.positive_log(close)
    log_sma_fast = _last.log_of(_last.rolling_mean(close, fast))
    log_sma_slow = _last.log_of(_last.rolling_mean(close, slow))
    ema_fast = _last.ewm_all(close, span=macd_fast, min_periods=macd_fast)
    ema_slow = _last.ewm_all(close, span=macd_slow, min_periods=macd_slow)
    with np.errstate(divide="ignore", invalid="ignore"):
        macd = (ema_fast - ema_slow) / close
    signal = _last.ewm_last(macd, span=macd_signal, min_periods=macd_signal)
    path = _last.rolling_sum(np.abs(_last.diffs(log_close)), slope_window)
    slope = rolling_slope(pd.Series(log_close[-slope_window:]), slope_window).iloc[-1]
    return {
        f"trend_sma_ratio_{fast}": float(log_close[-1] - log_sma_fast),
        f"trend_sma_ratio_{slow}": float(log_close[-1] - log_sma_slow),
        f"trend_sma_cross_{fast}_{slow}": log_sma_fast - log_sma_slow,
        "trend_macd": float(macd[-1]),
        "trend_macd_hist": float(macd[-1] - signal),
        f"trend_slope_{slope_window}": float(slope),
        f"trend_efficiency_{slope_window}": _last.ratio(abs(_last.diff(log_close, slope_window)), path),
    }
