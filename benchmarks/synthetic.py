"""Seeded synthetic bars: minute bars for the throughput benchmarks, daily families with known signals for the
gate's power benchmark, and the demonstration series shipped in ``data/synthetic/``.

Every series is SYNTHETIC: generated from a seed, with no market behind it. Daily families sit on the XNYS
session calendar (the grid the equity quality suite expects) and are written as CSV files the ``file`` data
source reads (``date,open,high,low,close,volume``).

Families (daily log returns; sigma is the daily volatility):

* ``noise``: i.i.d. normal, no drift. ``noise_drift``: the same with +0.03 %/day. ``noise_fat``: Student-t
  (4 degrees of freedom, scaled to the same sigma), no drift. None is predictable: a gate should fail them.
* ``ar1``: AR(1) returns, phi drawn from [0.10, 0.20] per seed.
* ``vol_regime``: a two-state Markov volatility regime; the drift is linked to the volatility
  (calm: +0.05 %/day, turbulent: -0.10 %/day).
* ``strong_regime``: calm +0.25 %/day, turbulent -0.5 %/day.
* ``fast_regime``: short regimes (calm 8 days at +0.2 %/day and sigma 0.6 %, turbulent 6 days at -0.3 %/day
  and sigma 1.8 %): a regime signal that changes often enough to trade, visible in range-based volatility.
* ``weekday``: the demonstration signal: sessions Monday to Wednesday drift +0.15 %/day, Thursday and Friday
  -0.20 %/day, under 1 % daily noise. A model sees the weekday of the previous bar (the ``calendar`` feature
  group) and can learn it; it trades about once a week.

Usage::

    .venv/bin/python benchmarks/synthetic.py demo            # rewrites data/synthetic/weekday_demo.csv
    .venv/bin/python benchmarks/synthetic.py family ar1 --seed 3 --out /tmp/ar1_3.csv
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

#: The demonstration series: file, seed and date range (see :func:`demo_bars`).
DEMO_PATH = REPO / "data" / "synthetic" / "weekday_demo.csv"
DEMO_SEED = 20260101
DEMO_START, DEMO_END = "2003-01-01", "2025-12-31"


def minute_bars(n: int = 1_000_000, *, seed: int = 11, price: float = 100.0, freq: str = "1min") -> pd.DataFrame:
    """Return ``n`` canonical OHLCV bars (UTC ``ts`` index, float64 columns) of a seeded random walk.

    Log returns are N(2e-8, 5e-4) per bar (about 0.8 % a day for 1-minute bars, drift ~2 % over 1 M bars).
    ``tests/stubs.random_walk_bars`` uses a drift of 3e-4 per bar, fine for 500 daily bars but it compounds to
    exp(300) over 1 M bars; this keeps the price in a realistic range over millions of bars.
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


# ---------------------------------------------------------------------------------------------------------
# daily families


def sessions(start: str, end: str) -> pd.DatetimeIndex:
    """XNYS session dates (midnight UTC) from ``start`` to ``end`` inclusive: the equity quality grid."""
    from pipeline.timeframes import expected_grid
    from pipeline.window import Window

    window = Window.parse(start, end)
    return expected_grid("1d", window.start, window.end, "equity")


def _markov_regime(rng: np.random.Generator, n: int, calm_days: float, turbulent_days: float) -> np.ndarray:
    """A two-state Markov chain (True = turbulent) with the given mean durations in bars."""
    p_leave = (1.0 / calm_days, 1.0 / turbulent_days)
    state = np.empty(n, dtype=bool)
    current = False
    draws = rng.random(n)
    for i in range(n):
        state[i] = current
        if draws[i] < p_leave[int(current)]:
            current = not current
    return state


def _noise(rng: np.random.Generator, n: int, sigma: float, fat: bool = False) -> np.ndarray:
    if not fat:
        return rng.normal(0.0, sigma, n)
    df = 4.0  # 3 degrees of freedom put one seed in 10 over the quality suite's jump limit (robust z 30)
    return rng.standard_t(df, n) * sigma / np.sqrt(df / (df - 2.0))


def _family_noise(rng, index, *, drift=0.0, fat=False, sigma=0.01):
    return drift + _noise(rng, len(index), sigma, fat), np.full(len(index), sigma)


def _family_ar1(rng, index, sigma=0.01):
    phi = rng.uniform(0.10, 0.20)
    eps = rng.normal(0.0, sigma * np.sqrt(1 - phi**2), len(index))
    r = np.empty(len(index))
    r[0] = eps[0]
    for i in range(1, len(r)):
        r[i] = phi * r[i - 1] + eps[i]
    return r, np.full(len(index), sigma)


def _family_regime(
    rng,
    index,
    *,
    calm_drift,
    turbulent_drift,
    calm_sigma=0.007,
    turbulent_sigma=0.02,
    calm_days=40.0,
    turbulent_days=20.0,
):
    turbulent = _markov_regime(rng, len(index), calm_days=calm_days, turbulent_days=turbulent_days)
    sigma = np.where(turbulent, turbulent_sigma, calm_sigma)
    drift = np.where(turbulent, turbulent_drift, calm_drift)
    return drift + rng.normal(0.0, 1.0, len(index)) * sigma, sigma


def _family_weekday(rng, index, *, up=0.0015, down=-0.0020, sigma=0.01):
    weekday = np.asarray(index.day_of_week)
    drift = np.where(weekday <= 2, up, down)
    return drift + rng.normal(0.0, sigma, len(index)), np.full(len(index), sigma)


FAMILIES: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "noise": lambda rng, index: _family_noise(rng, index),
    "noise_drift": lambda rng, index: _family_noise(rng, index, drift=0.0003),
    "noise_fat": lambda rng, index: _family_noise(rng, index, fat=True),
    "ar1": _family_ar1,
    "vol_regime": lambda rng, index: _family_regime(rng, index, calm_drift=0.0005, turbulent_drift=-0.0010),
    "strong_regime": lambda rng, index: _family_regime(rng, index, calm_drift=0.0025, turbulent_drift=-0.0050),
    "fast_regime": lambda rng, index: _family_regime(
        rng,
        index,
        calm_drift=0.002,
        turbulent_drift=-0.003,
        calm_sigma=0.006,
        turbulent_sigma=0.018,
        calm_days=8.0,
        turbulent_days=6.0,
    ),
    "weekday": _family_weekday,
}
#: Each family's number in its random stream; append new families at the end so existing series stay the same.
STREAM_ORDER: tuple[str, ...] = (
    "ar1",
    "noise",
    "noise_drift",
    "noise_fat",
    "strong_regime",
    "vol_regime",
    "weekday",
    "fast_regime",
)
#: Families with no predictable component: a gate that passes them is passing luck.
NULL_FAMILIES: tuple[str, ...] = ("noise", "noise_drift", "noise_fat")


def daily_bars(family: str, seed: int, start: str = "2000-01-01", end: str = "2019-12-31") -> pd.DataFrame:
    """Seeded daily OHLCV bars of one family on XNYS sessions (UTC ``ts`` index, float64 columns).

    Close-to-close log returns come from the family; the open gaps a tenth of a sigma from the previous close,
    high and low extend beyond open and close by a half-normal share of the day's sigma (so range-based
    volatility features see the regime), volume is log-normal and rises with sigma.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; known: {', '.join(FAMILIES)}")
    rng = np.random.default_rng([seed, STREAM_ORDER.index(family)])
    index = sessions(start, end)
    log_returns, sigma = FAMILIES[family](rng, index)
    close = 100.0 * np.exp(np.cumsum(log_returns))
    previous = np.concatenate([[100.0], close[:-1]])
    open_ = previous * np.exp(rng.normal(0.0, 0.1, len(index)) * sigma)
    top = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 0.5, len(index))) * sigma)
    bottom = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 0.5, len(index))) * sigma)
    volume = np.round(rng.lognormal(13.0, 0.3, len(index)) * (sigma / 0.01))
    frame = pd.DataFrame({"open": open_, "high": top, "low": bottom, "close": close, "volume": volume}, index=index)
    return frame.rename_axis("ts")


def write_csv(bars: pd.DataFrame, path: Path) -> Path:
    """Write bars as ``date,open,high,low,close,volume`` (dates as YYYY-MM-DD, naive = UTC; 4 decimals)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    out = bars.round({"open": 4, "high": 4, "low": 4, "close": 4, "volume": 0})
    # Rounding must not cross high/low over open/close.
    out["high"] = out[["open", "high", "low", "close"]].max(axis=1)
    out["low"] = out[["open", "high", "low", "close"]].min(axis=1)
    out = out.assign(volume=out["volume"].astype("int64"))
    out.index = pd.DatetimeIndex(out.index).strftime("%Y-%m-%d")
    out.index.name = "date"
    out.to_csv(path, lineterminator="\n")
    return path


def demo_bars() -> pd.DataFrame:
    """The demonstration series shipped as ``data/synthetic/weekday_demo.csv`` (family ``weekday``)."""
    return daily_bars("weekday", DEMO_SEED, DEMO_START, DEMO_END)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="write the demonstration series")
    demo.add_argument("--out", type=Path, default=DEMO_PATH)
    fam = sub.add_parser("family", help="write one seeded series of a family")
    fam.add_argument("family", choices=sorted(FAMILIES))
    fam.add_argument("--seed", type=int, default=0)
    fam.add_argument("--start", default="2000-01-01")
    fam.add_argument("--end", default="2019-12-31")
    fam.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "demo":
        path = write_csv(demo_bars(), args.out)
    else:
        path = write_csv(daily_bars(args.family, args.seed, args.start, args.end), args.out)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
