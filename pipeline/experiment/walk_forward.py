"""Walk-forward validation: one model per fold, results reported per fold and pooled."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from pipeline.backtest import BacktestResult, compute_metrics
from pipeline.errors import BacktestError


def pool_folds(results: Sequence[BacktestResult], periods_per_year: float) -> BacktestResult:
    """Chain the folds' test segments into one out-of-sample backtest (folds never overlap in time).

    Each fold starts flat (its first bar has no return), exactly as it was traded.
    """
    if not results:
        raise BacktestError("walk_forward: no folds to pool")
    returns = pd.concat([r.returns for r in results])
    benchmark = pd.concat([r.benchmark_returns for r in results])
    positions = pd.concat([r.positions for r in results])
    trades = pd.concat([r.trades for r in results if not r.trades.empty] or [results[0].trades], ignore_index=True)
    closed = trades[trades["closed"].astype(bool)] if "closed" in trades else trades
    metrics = compute_metrics(
        returns.to_numpy(),
        benchmark.to_numpy(),
        positions.to_numpy(),
        closed["return"].to_numpy(dtype=float),
        periods_per_year,
    )
    equity = pd.Series(np.cumprod(np.maximum(1.0 + returns.to_numpy(), 0.0)), index=returns.index)
    bench_equity = pd.Series(np.cumprod(np.maximum(1.0 + benchmark.to_numpy(), 0.0)), index=benchmark.index)
    return BacktestResult(returns, benchmark, positions, equity, bench_equity, trades, metrics)


def fold_metrics(results: Sequence[BacktestResult]) -> dict[str, float]:
    """Per-fold metrics flattened for MLflow: ``fold<k>.<metric>``."""
    out: dict[str, float] = {}
    for k, result in enumerate(results):
        for name in ("total_return", "buy_hold_return", "excess_return", "sharpe", "max_drawdown", "n_trades"):
            out[f"fold{k}.{name}"] = float(result.metrics[name])
    out["folds"] = float(len(results))
    out["folds_beating_buy_and_hold"] = float(sum(r.metrics.excess_return > 0 for r in results))
    return out
