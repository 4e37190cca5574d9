"""Volatility: close-to-close, range-based (Parkinson, Garman-Klass) and average true range."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from pipeline.features.groups import _last
from pipeline.features.groups._ops import check_windows, log_price
from pipeline.features.registry import BarArrays, feature_group, feature_last_row


@feature_group("volatility", warmup=lambda p: max(p["fast"], p["slow"], p["atr_window"]) + 1)
def volatility(bars: pd.DataFrame, fast: int = 5, slow: int = 20, atr_window: int = 14) -> pd.DataFrame:
    """Compute per-bar volatility estimates over trailing windows.

    Columns: ``volatility_<fast>``, ``volatility_<slow>`` (std of log returns), ``volatility_ratio_<fast>_<slow>``,
    ``volatility_parkinson_<slow>``, ``volatility_garman_klass_<slow>``, ``volatility_atr_<atr_window>``
    (average true range over the close) and ``volatility_range`` (log high over low of the bar).
    """
    check_windows(fast=fast, slow=slow, atr_window=atr_window)
    log_close = log_price(bars["close"])
    log_hl = log_price(bars["high"]) - log_price(bars["low"])
    log_co = log_close - log_price(bars["open"])
    ret = log_close.diff()
    vol_fast = ret.rolling(fast, min_periods=fast).std()
    vol_slow = ret.rolling(slow, min_periods=slow).std()
    prev_close = bars["close"].shift(1)
    true_range = np.maximum(bars["high"], prev_close) - np.minimum(bars["low"], prev_close)
    gk_term = 0.5 * log_hl**2 - (2.0 * np.log(2.0) - 1.0) * log_co**2
    out = {
        f"volatility_{fast}": vol_fast,
        f"volatility_{slow}": vol_slow,
        f"volatility_ratio_{fast}_{slow}": vol_fast / vol_slow,
        f"volatility_parkinson_{slow}": np.sqrt((log_hl**2).rolling(slow, min_periods=slow).mean() / (4 * np.log(2))),
        f"volatility_garman_klass_{slow}": np.sqrt(gk_term.rolling(slow, min_periods=slow).mean().clip(lower=0.0)),
        f"volatility_atr_{atr_window}": true_range.rolling(atr_window, min_periods=atr_window).mean() / bars["close"],
        "volatility_range": log_hl,
    }
    return pd.DataFrame(out, index=bars.index)


@feature_last_row("volatility")
def volatility_last(bars: BarArrays, fast: int, slow: int, atr_window: int) -> dict[str, float]:
    """The last row of :func:`volatility` (exact, see :mod:`._last`)."""
    check_windows(fast=fast, slow=slow, atr_window=atr_window)
    log_close = _last.positive_log(bars.close)
    log_hl = _last.positive_log(bars.high) - _last.positive_log(bars.low)
    log_co = log_close - _last.positive_log(bars.open)
    ret = _last.diffs(log_close)
    vol_fast = _last.rolling_std(ret, fast)
    vol_slow = _last.rolling_std(ret, slow)
    prev_close = np.concatenate([[np.nan], bars.close[:-1]])
    true_range = np.maximum(bars.high, prev_close) - np.minimum(bars.low, prev_close)
    gk_term = 0.5 * log_hl**2 - (2.0 * np.log(2.0) - 1.0) * log_co**2
    gk_mean = _last.rolling_mean(gk_term, slow)
    return {
        f"volatility_{fast}": vol_fast,
        f"volatility_{slow}": vol_slow,
        f"volatility_ratio_{fast}_{slow}": _last.ratio(vol_fast, vol_slow),
        f"volatility_parkinson_{slow}": math.sqrt(_last.rolling_mean(log_hl**2, slow) / (4 * np.log(2))),
        f"volatility_garman_klass_{slow}": math.sqrt(max(gk_mean, 0.0)) if gk_mean == gk_mean else _last.NAN,
        f"volatility_atr_{atr_window}": _last.ratio(_last.rolling_mean(true_range, atr_window), bars.close[-1]),
        "volatility_range": float(log_hl[-1]),
    }
