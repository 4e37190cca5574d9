"""Backtest: turn class probabilities into positions, returns, trades and metrics (vectorised)."""

from pipeline.backtest.engine import (
    METRIC_NAMES,
    TRADE_COLUMNS,
    BacktestConfig,
    BacktestError,
    BacktestResult,
    Metrics,
    compute_metrics,
    extract_trades,
    run_backtest,
)
from pipeline.strategy import KELLY_MIN_OBS, favourable_adverse, target_positions

__all__ = [
    "KELLY_MIN_OBS",
    "METRIC_NAMES",
    "TRADE_COLUMNS",
    "BacktestConfig",
    "BacktestError",
    "BacktestResult",
    "Metrics",
    "compute_metrics",
    "extract_trades",
    "favourable_adverse",
    "run_backtest",
    "target_positions",
]
