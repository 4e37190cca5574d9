"""Last-bar helpers for the built-in groups' last-row paths (:func:`pipeline.features.feature_last_row`).

Each returns exactly (bit for bit) what the pandas operation of the group's own function gives at the last
bar, from numpy arrays (oldest first), without the pandas objects of every intermediate column:

* elementwise arithmetic, logs, differences, rolling min/max (the same values' extreme), and the
  least-squares slope (the same convolution on the last window) are computed on the needed values only;
* rolling sums, means, variances and correlations, and exponential averages, call pandas' own rolling and
  ``ewm`` on the whole array: pandas updates these running statistics bar by bar from the first bar (adding
  the newest value, removing the oldest), so their last bits depend on every earlier bar, and a fresh sum
  over the last window would differ by rounding (relative 1e-9 on nearly constant windows).

A NaN or infinite value anywhere in a window gives NaN, as ``rolling(..., min_periods=window)`` does (pandas
treats infinities as missing there).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

NAN = math.nan


def positive_log(values: np.ndarray) -> np.ndarray:
    """``log(values)``, NaN where a value is not positive (``_ops.log_price`` on an array)."""
    return np.log(np.where(values > 0, values, np.nan))


def log_of(value: float) -> float:
    """``log(value)`` as numpy computes it inside an array (NaN when not positive)."""
    return float(positive_log(np.array([value], dtype="float64"))[0])


def diff(values: np.ndarray, lag: int = 1) -> float:
    """``values[-1] - values[-1 - lag]`` (``Series.diff(lag)`` at the last bar)."""
    return float(values[-1] - values[-1 - lag]) if len(values) > lag else NAN


def diffs(values: np.ndarray) -> np.ndarray:
    """``Series.diff()``: NaN first, then each value minus the one before."""
    out = np.empty(len(values))
    out[:1] = np.nan
    np.subtract(values[1:], values[:-1], out=out[1:])
    return out


def window(values: np.ndarray, n: int) -> np.ndarray | None:
    """The last ``n`` values, or None when there are fewer or one of them is NaN or infinite."""
    if len(values) < n:
        return None
    last = values[len(values) - n :]
    return last if np.isfinite(last).all() else None


def _rolling(values: np.ndarray, n: int) -> pd.api.typing.Rolling:
    return pd.Series(values, copy=False).rolling(n, min_periods=n)


def rolling_sum(values: np.ndarray, n: int) -> float:
    """``rolling(n, min_periods=n).sum()`` at the last bar (pandas' running sum over every bar)."""
    return float(_rolling(values, n).sum().iat[-1])


def rolling_mean(values: np.ndarray, n: int) -> float:
    """``rolling(n, min_periods=n).mean()`` at the last bar (pandas' running mean over every bar)."""
    return float(_rolling(values, n).mean().iat[-1])


def rolling_std(values: np.ndarray, n: int) -> float:
    """``rolling(n, min_periods=n).std()`` at the last bar (pandas' running variance over every bar)."""
    return float(_rolling(values, n).std().iat[-1])


def rolling_corr(x: np.ndarray, y: np.ndarray, n: int) -> float:
    """``x.rolling(n, min_periods=n).corr(y)`` at the last bar (pandas' running covariance over every bar)."""
    return float(_rolling(x, n).corr(pd.Series(y, copy=False)).iat[-1])


def rolling_min(values: np.ndarray, n: int) -> float:
    """``rolling(n, min_periods=n).min()`` at the last bar."""
    last = window(values, n)
    return NAN if last is None else float(last.min())


def rolling_max(values: np.ndarray, n: int) -> float:
    """``rolling(n, min_periods=n).max()`` at the last bar."""
    last = window(values, n)
    return NAN if last is None else float(last.max())


def ewm_last(values: np.ndarray, *, min_periods: int, span: float | None = None, alpha: float | None = None) -> float:
    """``Series.ewm(span=..., alpha=..., min_periods=..., adjust=False).mean()`` at the last bar (pandas' own
    recursion over every value)."""
    return float(ewm_all(values, min_periods=min_periods, span=span, alpha=alpha)[-1])


def ewm_all(
    values: np.ndarray, *, min_periods: int, span: float | None = None, alpha: float | None = None
) -> np.ndarray:
    """``Series.ewm(..., adjust=False).mean()`` of every value (for averages of averages, e.g. MACD's signal)."""
    series = pd.Series(values, copy=False)
    return series.ewm(span=span, alpha=alpha, min_periods=min_periods, adjust=False).mean().to_numpy()


def clip_lower(values: np.ndarray, lower: float) -> np.ndarray:
    """``Series.clip(lower=lower)``: values below ``lower`` become ``lower``; NaN stays NaN."""
    return np.where(values < lower, lower, values)


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator`` as pandas divides Series: x/0 is +-inf, 0/0 NaN (the pipeline makes
    infinities NaN)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(numerator) / np.float64(denominator))
