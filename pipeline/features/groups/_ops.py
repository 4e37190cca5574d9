"""Small vectorised helpers shared by the built-in groups (all causal)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def log_price(series: pd.Series) -> pd.Series:
    """Return ``log(series)``, NaN where the price is not positive."""
    return np.log(series.where(series > 0))


def rolling_slope(series: pd.Series, window: int) -> pd.Series:
    """Return the least-squares slope per bar of ``series`` over the ``window`` bars ending at each bar.

    Each value is a fixed linear filter of its own window (a convolution), so it does not depend on any bar
    outside the window; windows containing NaN give NaN.
    """
    values = series.to_numpy(dtype="float64")
    out = np.full(values.shape, np.nan)
    if window >= 2 and len(values) >= window:
        x = np.arange(window, dtype="float64") - (window - 1) / 2.0
        kernel = (x / np.dot(x, x))[::-1]
        out[window - 1 :] = np.convolve(values, kernel, mode="valid")
    return pd.Series(out, index=series.index)


def check_windows(**windows: int) -> None:
    """Raise ValueError unless every window is an integer >= 1."""
    for name, value in windows.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
