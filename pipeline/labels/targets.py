"""Targets: what the model predicts about the ``holding_period`` bars after each bar.

Every label at bar ``t`` is a function of ``close[t], close[t+1], ..., close[t+h]`` of the frame it is
given, and nothing else. Bars whose horizon runs past the end of that frame are unlabelable: the last
``h`` bars are always NaN (also for the triple barrier, even when a barrier is touched early, so that
every target kind drops the same tail). Labels are returned as a float64 Series holding whole class
numbers and NaN; callers drop the NaN rows and cast to int.

Class mappings (all start at 0 so they can be fed to XGBoost unchanged):

``binary``
    1 when ``close[t+h] / close[t] - 1 > profit_target``, else 0.
``multiclass``
    The number of thresholds the forward return strictly exceeds: ``k`` thresholds give classes
    ``0..k`` ordered from worst to best (``0``: return <= thresholds[0]; ``k``: return > thresholds[-1]).
``triple_barrier``
    Along the close path ``close[t+1..t+h] / close[t] - 1``: ``2`` when the upper barrier
    (``>= +profit_target``) is touched first, ``0`` when the lower barrier (``<= -stop_loss``) is touched
    first, ``1`` when neither is touched within ``h`` bars (the vertical barrier).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from pipeline.config import TargetConfig
from pipeline.errors import LabelError

#: Triple-barrier class numbers.
STOP_CLASS = 0
VERTICAL_CLASS = 1
PROFIT_CLASS = 2

# Rows of the (n, h) window matrix processed at once; bounds memory for long horizons.
_CHUNK_CELLS = 4_000_000


def forward_returns(close: np.ndarray, horizon: int) -> np.ndarray:
    """Return ``close[t + horizon] / close[t] - 1``, NaN for the last ``horizon`` bars.

    Parameters
    ----------
    close : numpy.ndarray
        Close prices, oldest first.
    horizon : int
        Bars ahead (>= 1).

    Returns
    -------
    numpy.ndarray
        float64 array of the same length as ``close``.
    """
    close = np.asarray(close, dtype="float64")
    out = np.full(close.shape[0], np.nan)
    if close.shape[0] > horizon:
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:-horizon] = close[horizon:] / close[:-horizon] - 1.0
    return out


def binary_labels(close: np.ndarray, horizon: int, profit_target: float = 0.0) -> np.ndarray:
    """Return 1.0 where the forward return exceeds ``profit_target``, 0.0 where not, NaN where unknown."""
    fwd = forward_returns(close, horizon)
    return np.where(np.isnan(fwd), np.nan, (fwd > profit_target).astype("float64"))


def multiclass_labels(close: np.ndarray, horizon: int, thresholds: list[float]) -> np.ndarray:
    """Return the number of ``thresholds`` the forward return strictly exceeds, NaN where unknown."""
    fwd = forward_returns(close, horizon)
    cuts = np.asarray(thresholds, dtype="float64")
    classes = np.searchsorted(cuts, fwd, side="left").astype("float64")
    return np.where(np.isnan(fwd), np.nan, classes)


def triple_barrier_labels(close: np.ndarray, horizon: int, profit_target: float, stop_loss: float) -> np.ndarray:
    """Return first-touch triple-barrier classes (0 stop, 1 vertical, 2 profit), NaN where unknown.

    Vectorised with :func:`numpy.lib.stride_tricks.sliding_window_view`: row ``t`` of the window matrix is
    ``close[t+1 .. t+h]``; the first column crossing each barrier is found with ``argmax`` and the
    earlier one wins. A NaN close inside a window makes that row unlabelable.
    """
    close = np.asarray(close, dtype="float64")
    n = close.shape[0]
    out = np.full(n, np.nan)
    m = n - horizon
    if m <= 0:
        return out
    windows = sliding_window_view(close[1:], horizon)  # shape (m, h), a view: no copy
    step = max(1, _CHUNK_CELLS // horizon)
    for lo in range(0, m, step):  # chunks of rows, not a loop over bars
        hi = min(m, lo + step)
        with np.errstate(divide="ignore", invalid="ignore"):
            path = windows[lo:hi] / close[lo:hi, None] - 1.0
        up = path >= profit_target
        down = path <= -stop_loss
        first_up = np.where(up.any(axis=1), up.argmax(axis=1), horizon)
        first_down = np.where(down.any(axis=1), down.argmax(axis=1), horizon)
        labels = np.full(hi - lo, float(VERTICAL_CLASS))
        labels[first_up < first_down] = PROFIT_CLASS
        labels[first_down < first_up] = STOP_CLASS
        labels[np.isnan(path).any(axis=1) | ~np.isfinite(close[lo:hi])] = np.nan
        out[lo:hi] = labels
    return out


def make_labels(bars: pd.DataFrame, target_cfg: TargetConfig) -> pd.Series:
    """Label every bar of ``bars`` with the target ``target_cfg`` describes.

    Only the bars given are used: pass one segment's bars to get labels that never look past that
    segment's end.

    Parameters
    ----------
    bars : pandas.DataFrame
        Canonical bars (a ``close`` column, ascending index).
    target_cfg : TargetConfig
        Target kind, holding period and barriers/thresholds.

    Returns
    -------
    pandas.Series
        float64 Series named ``label`` on ``bars.index``: whole class numbers ``0..k-1``, NaN where the
        horizon runs past the last bar (the last ``holding_period`` bars) or a price is missing.

    Raises
    ------
    LabelError
        If ``bars`` has no ``close`` column.
    """
    if "close" not in bars.columns:
        raise LabelError("make_labels: bars have no close column")
    close = bars["close"].to_numpy(dtype="float64")
    h = target_cfg.holding_period
    if target_cfg.kind == "binary":
        values = binary_labels(close, h, target_cfg.profit_target)
    elif target_cfg.kind == "multiclass":
        values = multiclass_labels(close, h, list(target_cfg.thresholds or []))
    else:
        values = triple_barrier_labels(close, h, target_cfg.profit_target, float(target_cfg.stop_loss or 0.0))
    return pd.Series(values, index=bars.index, name="label", dtype="float64")
