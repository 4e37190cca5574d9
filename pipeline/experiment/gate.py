"""Assemble the gate's evidence for one experiment and evaluate it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pipeline.config import ExperimentConfig
from pipeline.features import FeaturePipeline, LeakageReport, check_leakage
from pipeline.gate import GateEvidence, GateReport, evaluate_gate

if TYPE_CHECKING:
    import pandas as pd

    from pipeline.backtest import BacktestResult
    from pipeline.quality import QualityReport


@dataclass(frozen=True)
class TrialContext:
    """How many trials stand behind a result, and how their Sharpe ratios (annualised) spread."""

    n_trials: int = 1
    source: str = "single run"
    trial_sharpes: tuple[float, ...] = ()


def leakage_cuts(
    config: ExperimentConfig, bars: pd.DataFrame, warmup: int, backtest: BacktestResult | None = None
) -> list[pd.Timestamp]:
    """Where the look-ahead check cuts the bars: ``gate.leakage_cuts`` random bars, seeded by the config hash
    (so each run, not each code version, draws its own), plus the segment boundaries (the first bar after the
    warm-up, the first and last test bars, and the bar before the last)."""
    from pipeline.config import config_hash

    lo, hi = warmup, len(bars) - 2
    if hi < lo:
        return list(bars.index[-1:])  # check_leakage reports too few bars itself
    rng = np.random.default_rng(int(config_hash(config), 16))
    n_random = min(config.gate.leakage_cuts, hi - lo + 1)
    positions = {int(p) for p in rng.choice(np.arange(lo, hi + 1), size=n_random, replace=False)}
    positions.update({lo, hi})
    index = bars.index
    if backtest is not None and len(backtest.returns):
        for ts in (backtest.returns.index[0], backtest.returns.index[-1]):
            pos = int(index.searchsorted(ts))
            if lo <= pos <= hi:
                positions.add(pos)
    return [index[p] for p in sorted(positions)]


def gate_experiment(
    *,
    config: ExperimentConfig,
    bars: pd.DataFrame,
    periods_per_year: float,
    features: FeaturePipeline,
    quality: QualityReport,
    backtest: BacktestResult,
    has_model_artifact: bool,
    has_feature_metadata: bool,
    trials: TrialContext | None = None,
    fold_excess_returns: list[float] | None = None,
) -> tuple[GateReport, LeakageReport]:
    """Run the leakage check on the experiment's bars, then every gate rule."""
    trials = trials or TrialContext()
    leakage = check_leakage(features, bars, cuts=leakage_cuts(config, bars, features.warmup, backtest))
    evidence = GateEvidence(
        metrics=dict(backtest.metrics),
        strategy_returns=np.asarray(backtest.returns, dtype=float),
        benchmark_returns=np.asarray(backtest.benchmark_returns, dtype=float),
        periods_per_year=periods_per_year,
        coverage=float(quality.coverage),
        has_model_artifact=has_model_artifact,
        has_feature_metadata=has_feature_metadata,
        leakage_passed=leakage.passed,
        leaking_features=list(leakage.leaking_features),
        n_trials=max(1, trials.n_trials),
        trial_sharpes=list(trials.trial_sharpes) or None,
        n_trials_source=trials.source,
        fold_excess_returns=fold_excess_returns,
        seed=config.model.seed,
        holding_period=config.target.holding_period,
    )
    return evaluate_gate(evidence, config.gate), leakage
