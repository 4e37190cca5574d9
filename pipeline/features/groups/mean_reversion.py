"""Mean reversion: z-score, RSI, stochastic oscillator, distance from range extremes, autocorrelation."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.features.groups import _last
from pipeline.features.groups._ops import check_windows, log_price
from pipeline.features.registry import BarArrays, feature_group, feature_last_row


@feature_group("mean_reversion", warmup=lambda p: max(p["window"] + 1, p["rsi_window"] + 1, p["stoch_window"]))
def mean_reversion(bars: pd.DataFrame, window: int = 20, rsi_window: int = 14, stoch_window: int = 14) -> pd.DataFrame:
    """Compute oscillators that measure how stretched the close is from its recent range.

    Columns: ``mean_reversion_zscore_<w>`` (close minus SMA over std), ``mean_reversion_rsi_<n>`` (Wilder RSI
    rescaled to [-1, 1]), ``mean_reversion_stoch_<n>`` (close within the high-low range, in [0, 1]),
    ``mean_reversion_dist_high_<w>`` / ``mean_reversion_dist_low_<w>`` (log close over the rolling high / low)
    and ``mean_reversion_autocorr_<w>`` (lag-1 autocorrelation of log returns).
    """
    check_windows(window=window, rsi_window=rsi_window, stoch_window=stoch_window)
    close = bars["close"]
    log_close = log_price(close)
    ret = log_close.diff()
    mean = close.rolling(window, min_periods=window).mean()
    std = close.rolling(window, min_periods=window).std()
    delta = close.diff()
    alpha = 1.0 / rsi_window
    gain = delta.clip(lower=0.0).ewm(alpha=alpha, min_periods=rsi_window, adjust=False).mean()
    loss = (-delta).clip(lower=0.0).ewm(alpha=alpha, min_periods=rsi_window, adjust=False).mean()
    lowest = bars["low"].rolling(stoch_window, min_periods=stoch_window).min()
    highest = bars["high"].rolling(stoch_window, min_periods=stoch_window).max()
    range_high = bars["high"].rolling(window, min_periods=window).max()
    range_low = bars["low"].rolling(window, min_periods=window).min()
    out = {
        f"mean_reversion_zscore_{window}": (close - mean) / std,
        f"mean_reversion_rsi_{rsi_window}": (gain - loss) / (gain + loss),
        f"mean_reversion_stoch_{stoch_window}": (close - lowest) / (highest - lowest),
        f"mean_reversion_dist_high_{window}": log_close - log_price(range_high),
        f"mean_reversion_dist_low_{window}": log_close - log_price(range_low),
        f"mean_reversion_autocorr_{window}": ret.rolling(window, min_periods=window).corr(ret.shift(1)),
    }
    return pd.DataFrame(out, index=bars.index)


@feature_last_row("mean_reversion")
def mean_reversion_last(bars: BarArrays, window: int, rsi_window: int, stoch_window: int) -> dict[str, float]:
    """The last row of :func:`mean_reversion` (exact, see :mod:`._last`)."""
    check_windows(window=window, rsi_window=rsi_window, stoch_window=stoch_window)
    close = bars.close
    log_close = _last.positive_log(close)
    ret = _last.diffs(log_close)
    delta = _last.diffs(close)
    alpha = 1.0 / rsi_window
    gain = _last.ewm_last(_last.clip_lower(delta, 0.0), alpha=alpha, min_periods=rsi_window)
    loss = _last.ewm_last(_last.clip_lower(-delta, 0.0), alpha=alpha, min_periods=rsi_window)
    lowest = _last.rolling_min(bars.low, stoch_window)
    highest = _last.rolling_max(bars.high, stoch_window)
    previous = np.concatenate([[np.nan], ret[:-1]])
    return {
        f"mean_reversion_zscore_{window}": _last.ratio(
            close[-1] - _last.rolling_mean(close, window), _last.rolling_std(close, window)
        ),
        f"mean_reversion_rsi_{rsi_window}": _last.ratio(gain - loss, gain + loss),
        f"mean_reversion_stoch_{stoch_window}": _last.ratio(close[-1] - lowest, highest - lowest),
        f"mean_reversion_dist_high_{window}": float(log_close[-1] - _last.log_of(_last.rolling_max(bars.high, window))),
        f"mean_reversion_dist_low_{window}": float(log_close[-1] - _last.log_of(_last.rolling_min(bars.low, window))),
        f"mean_reversion_autocorr_{window}": _last.rolling_corr(ret, previous, window),
    }
