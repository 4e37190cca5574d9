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
    leakage = check_leakage(features, bars, cuts=config.gate.leakage_cuts)
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
    )
    return evaluate_gate(evidence, config.gate), leakage
