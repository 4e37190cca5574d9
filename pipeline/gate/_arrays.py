"""Array helpers shared by the gate's statistics and its bootstrap."""

from __future__ import annotations

import numpy as np
import pandas as pd

ArrayLike = np.ndarray | pd.Series | list[float] | tuple[float, ...]


def _finite(returns: ArrayLike) -> np.ndarray:
    values = np.asarray(returns, dtype=float).ravel()
    return values[np.isfinite(values)]


def _constant(x: np.ndarray) -> bool:
    # Exact zero variance is rare in floating point ([0.001] * 100 has std ~1e-19), so compare the range
    # with the magnitude instead.
    return x.size == 0 or float(np.ptp(x)) <= 1e-12 * max(1.0, float(np.abs(x).max()))
