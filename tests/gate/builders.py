"""Evidence builders for the gate tests: a run that passes every rule, altered one field at a time."""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.gate import GateEvidence

PERIODS_PER_YEAR = 252.0


def benchmark_returns(n: int = 756, seed: int = 3) -> np.ndarray:
    """Daily buy-and-hold returns: a seeded normal sample with a small drift."""
    return np.random.default_rng(seed).normal(0.0003, 0.01, n)


def skilled_returns(benchmark: np.ndarray, seed: int = 4) -> np.ndarray:
    """Strategy returns with a clear edge over ``benchmark`` (per-bar Sharpe ratio around 0.2)."""
    noise = np.random.default_rng(seed).normal(0.0015, 0.006, benchmark.size)
    return 0.5 * benchmark + noise


def good_metrics(**overrides: float) -> dict[str, float]:
    """Backtest metrics that clear every tier 1 and tier 2 threshold of the default GateConfig."""
    metrics = {
        "total_return": 0.45,
        "annual_return": 0.13,
        "annual_volatility": 0.09,
        "sharpe": 1.8,
        "sortino": 2.5,
        "max_drawdown": -0.08,
        "calmar": 1.6,
        "win_rate": 0.55,
        "n_trades": 80.0,
        "exposure": 0.7,
        "buy_hold_return": 0.2,
        "excess_return": 0.25,
        "downside_capture": 0.4,
    }
    metrics.update(overrides)
    return metrics


def passing_evidence(**overrides: Any) -> GateEvidence:
    """Evidence of a run that passes every rule of the default gate; keyword arguments replace fields."""
    benchmark = benchmark_returns()
    fields: dict[str, Any] = {
        "metrics": good_metrics(),
        "strategy_returns": skilled_returns(benchmark),
        "benchmark_returns": benchmark,
        "periods_per_year": PERIODS_PER_YEAR,
        "coverage": 1.0,
        "has_model_artifact": True,
        "has_feature_metadata": True,
        "leakage_passed": True,
        "leaking_features": [],
        "n_trials": 1,
        "n_trials_source": "single run",
        "seed": 42,
    }
    fields.update(overrides)
    return GateEvidence(**fields)
