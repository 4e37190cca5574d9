"""Synthetic canonical bars for the throughput benchmarks.

``tests/stubs.random_walk_bars`` uses a drift of 3e-4 per bar, fine for 500 daily bars but it compounds to
exp(300) over 1 M bars. This generator keeps the price in a realistic range over millions of bars: a
geometric random walk with a tiny drift and minute-bar volatility.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def minute_bars(n: int = 1_000_000, *, seed: int = 11, price: float = 100.0, freq: str = "1min") -> pd.DataFrame:
    """Return ``n`` canonical OHLCV bars (UTC ``ts`` index, float64 columns) of a seeded random walk.

    Log returns are N(2e-8, 5e-4) per bar (about 0.8 % a day for 1-minute bars, drift ~2 % over 1 M bars).
    """
    rng = np.random.default_rng(seed)
    index = pd.date_range("2020-01-01", periods=n, freq=freq, tz="UTC", name="ts")
    log_returns = rng.normal(2e-8, 5e-4, n)
    close = price * np.exp(np.cumsum(log_returns))
    open_ = np.concatenate([[price], close[:-1]]) * np.exp(rng.normal(0.0, 1e-4, n))
    spread = np.abs(rng.normal(0.0, 3e-4, n))
    high = np.maximum(open_, close) * (1.0 + spread)
    low = np.minimum(open_, close) * (1.0 - spread)
    volume = rng.lognormal(8.0, 0.6, n)
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index)
