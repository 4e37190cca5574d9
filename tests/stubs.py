"""Builders shared by tests: small, deterministic bar frames in canonical form."""

from __future__ import annotations

import numpy as np
import pandas as pd


def random_walk_bars(
    n: int = 500,
    *,
    start: str = "2020-01-01",
    freq: str = "1D",
    seed: int = 7,
    price: float = 100.0,
) -> pd.DataFrame:
    """A canonical OHLCV frame of ``n`` bars following a seeded geometric random walk."""
    rng = np.random.default_rng(seed)
    index = pd.date_range(start, periods=n, freq=freq, tz="UTC", name="ts")
    log_returns = rng.normal(0.0003, 0.015, n)
    close = price * np.exp(np.cumsum(log_returns))
    open_ = np.concatenate([[price], close[:-1]]) * np.exp(rng.normal(0, 0.002, n))
    spread = np.abs(rng.normal(0, 0.01, n))
    high = np.maximum(open_, close) * (1 + spread)
    low = np.minimum(open_, close) * (1 - spread)
    volume = rng.lognormal(14, 0.4, n)
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index)


#: The hourly BTCUSDT series of the crypto test model: trained on [2025-10-01, 2025-12-31], traded in January 2026.
BTC_START, BTC_TRAIN_END, BTC_HOURS = "2025-10-01", "2025-12-31", 24 * (92 + 20)


def btc_hourly_bars() -> pd.DataFrame:
    """Hourly BTCUSDT bars from 2025-10-01 for 112 days: SYNTHETIC (a seeded random walk around 100)."""
    return random_walk_bars(BTC_HOURS, start=BTC_START, freq="1h", seed=11, price=100.0)


def sample_bars(symbol: str = "AAPL", start: str = "2005-01-01", end: str = "2012-12-31") -> pd.DataFrame:
    """Real daily bars from the embedded sample source."""
    from pipeline.sources import get_source
    from pipeline.window import Window

    window = Window.parse(start, end)  # a date-only end includes its day
    return get_source("sample").fetch(symbol, "1d", window.start, window.end)
