"""Volume: activity relative to its recent level, order-flow pressure and distance from VWAP."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.features.groups import _last
from pipeline.features.groups._ops import check_windows, log_price
from pipeline.features.registry import BarArrays, feature_group, feature_last_row


@feature_group("volume", warmup=lambda p: p["window"] + 1, uses_volume=True)
def volume(bars: pd.DataFrame, window: int = 20) -> pd.DataFrame:
    """Compute volume features over a trailing window (NaN wherever volume is missing).

    Columns: ``volume_change_1`` (log change), ``volume_ratio_<w>`` (log volume over its mean),
    ``volume_zscore_<w>``, ``volume_flow_<w>`` (signed volume over total volume, in [-1, 1]) and
    ``volume_vwap_dist_<w>`` (log close over the rolling VWAP of the typical price).
    """
    check_windows(window=window)
    vol = bars["volume"].where(bars["volume"] >= 0)
    log_vol = np.log1p(vol)
    mean = log_vol.rolling(window, min_periods=window).mean()
    std = log_vol.rolling(window, min_periods=window).std()
    total = vol.rolling(window, min_periods=window).sum()
    direction = np.sign(bars["close"].diff())
    typical = (bars["high"] + bars["low"] + bars["close"]) / 3.0
    vwap = (typical * vol).rolling(window, min_periods=window).sum() / total
    out = {
        "volume_change_1": log_vol.diff(),
        f"volume_ratio_{window}": log_vol - mean,
        f"volume_zscore_{window}": (log_vol - mean) / std,
        f"volume_flow_{window}": (direction * vol).rolling(window, min_periods=window).sum() / total,
        f"volume_vwap_dist_{window}": log_price(bars["close"]) - log_price(vwap),
    }
    return pd.DataFrame(out, index=bars.index)


@feature_last_row("volume")
def volume_last(bars: BarArrays, window: int) -> dict[str, float]:
    """The last row of :func:`volume` (exact, see :mod:`._last`)."""
    check_windows(window=window)
    vol = np.where(bars.volume >= 0, bars.volume, np.nan)
    log_vol = np.log1p(vol)
    mean = _last.rolling_mean(log_vol, window)
    std = _last.rolling_std(log_vol, window)
    total = _last.rolling_sum(vol, window)
    direction = np.sign(_last.diffs(bars.close))
    typical = (bars.high + bars.low + bars.close) / 3.0
    vwap = _last.ratio(_last.rolling_sum(typical * vol, window), total)
    return {
        "volume_change_1": _last.diff(log_vol),
        f"volume_ratio_{window}": float(log_vol[-1] - mean),
        f"volume_zscore_{window}": _last.ratio(log_vol[-1] - mean, std),
        f"volume_flow_{window}": _last.ratio(_last.rolling_sum(direction * vol, window), total),
        f"volume_vwap_dist_{window}": float(_last.positive_log(bars.close[-1:])[0] - _last.log_of(vwap)),
    }
