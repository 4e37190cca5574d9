"""vectorbt side of benchmarks/backtest.py; runs in benchmarks/.venv-vectorbt, never in the project venv.

Reads ``close.npy`` and ``side.npy`` (1.0 = long, 0.0 = flat, decided on each bar's close) from a folder,
simulates long/flat with all equity, proportional fees, no liquidation at the end, and prints JSON:
timings (first call with numba compilation, then best/median of warm calls) and the total return.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import vectorbt as vbt


def main() -> None:
    folder, fees, repeats = Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    close_np = np.load(folder / "close.npy")
    side = np.load(folder / "side.npy").astype(bool)
    # tz-naive on purpose: with a tz-aware index, vectorbt 1.2 + pandas 3 wraps every output by iterating
    # the index as Timestamp objects (DatetimeArray.__array__ -> object), which costs seconds per call and
    # dwarfs the numba simulation. Naive minute stamps give vectorbt its best case.
    index = pd.date_range("2020-01-01", periods=len(close_np), freq="1min")
    close = pd.Series(close_np, index=index)
    entries = pd.Series(side, index=index)
    exits = pd.Series(~side, index=index)

    def simulate():
        pf = vbt.Portfolio.from_signals(close, entries, exits, fees=fees, init_cash=1.0, freq="1min")
        return pf, float(pf.total_return())

    def with_stats():
        pf, total = simulate()
        pf.stats(silence_warnings=True)
        return pf, total

    t0 = time.perf_counter()
    pf, total = simulate()
    first = time.perf_counter() - t0
    warm = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        pf, total = simulate()
        warm.append(time.perf_counter() - t0)
    stats_times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        with_stats()
        stats_times.append(time.perf_counter() - t0)
    print(
        json.dumps(
            {
                "versions": {n: metadata.version(n) for n in ("vectorbt", "numpy", "pandas", "numba")},
                "first_call_s": first,
                "warm_s": {"best": min(warm), "median": statistics.median(warm), "all": warm},
                "with_stats_s": {
                    "best": min(stats_times),
                    "median": statistics.median(stats_times),
                    "all": stats_times,
                },
                "total_return": total,
                "n_trades": int(pf.trades.count()),
            }
        )
    )


if __name__ == "__main__":
    main()
