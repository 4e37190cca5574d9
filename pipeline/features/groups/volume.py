"""Volume: activity relative to its recent level, order-flow pressure and distance from VWAP."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.features.groups._ops import check_windows, log_price
from pipeline.features.registry import feature_group


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
