"""Backtest: turn class probabilities into positions, returns, trades and metrics (vectorised)."""

from pipeline.backtest.engine import (
    KELLY_MIN_OBS,
    METRIC_NAMES,
    TRADE_COLUMNS,
    BacktestError,
    BacktestResult,
    compute_metrics,
    extract_trades,
    favourable_adverse,
    run_backtest,
    target_positions,
)

__all__ = [
    "KELLY_MIN_OBS",
    "METRIC_NAMES",
    "TRADE_COLUMNS",
    "BacktestError",
    "BacktestResult",
    "compute_metrics",
    "extract_trades",
    "favourable_adverse",
    "run_backtest",
    "target_positions",
]
