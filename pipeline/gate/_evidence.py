"""The plain inputs the gate judges."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass(frozen=True, eq=False, kw_only=True)
class GateEvidence:
    """Everything the gate needs about one experiment run, as plain values.

    The return series are stored as float64 arrays (a Series is taken positionally, not by index).
    Construction fails fast on contradictory or impossible evidence; a model that merely performs badly
    is judged by the rules, not refused here.

    Attributes
    ----------
    metrics
        Backtest metrics of the test segment after costs (``total_return``, ``sharpe``, ``win_rate``,
        ``n_trades``, ``excess_return``, ...).
    strategy_returns
        Per-bar strategy returns of the test segment after costs.
    benchmark_returns
        Per-bar buy-and-hold returns over the same bars.
    periods_per_year
        Bars per year of the timeframe (annualises Sharpe ratios, converts bars to years).
    coverage
        Share of the expected bars that were present (data quality), in ``[0, 1]``.
    has_model_artifact
        Whether the trained model was saved.
    has_feature_metadata
        Whether the feature metadata needed to rebuild the features was saved.
    leakage_passed
        Verdict of the look-ahead leakage check; None when it was not run.
    leaking_features
        Features the leakage check found leaking.
    n_trials
        Number of trials (configurations tried) the model was selected from.
    trial_sharpes
        **Annualised** Sharpe ratios of those trials (their spread sets the DSR's expected maximum); None
        when unknown. They are converted to per-period values inside the gate.
    n_trials_source
        Where ``n_trials`` came from, in words (for instance ``"optuna study 'x': 40 trials"``).
    fold_excess_returns
        Walk-forward: excess return over buy-and-hold of each fold; None for a single split.
    seed
        Seed of the bootstrap.
    """

    metrics: dict[str, float]
    strategy_returns: np.ndarray | pd.Series
    benchmark_returns: np.ndarray | pd.Series
    periods_per_year: float
    coverage: float
    has_model_artifact: bool
    has_feature_metadata: bool
    leakage_passed: bool | None
    leaking_features: list[str] = field(default_factory=list)
    n_trials: int = 1
    trial_sharpes: list[float] | None = None
    n_trials_source: str = "single run"
    fold_excess_returns: list[float] | None = None
    seed: int = 42
    holding_period: int = 1

    def __post_init__(self) -> None:
        strategy = np.asarray(self.strategy_returns, dtype=float).ravel()
        benchmark = np.asarray(self.benchmark_returns, dtype=float).ravel()
        if strategy.shape != benchmark.shape:
            raise ValueError(
                f"strategy_returns ({strategy.size} bars) and benchmark_returns ({benchmark.size} bars) "
                "must cover the same bars"
            )
        object.__setattr__(self, "strategy_returns", strategy)
        object.__setattr__(self, "benchmark_returns", benchmark)
        object.__setattr__(self, "metrics", dict(self.metrics))
        object.__setattr__(self, "leaking_features", list(self.leaking_features))
        if not (math.isfinite(self.periods_per_year) and self.periods_per_year > 0):
            raise ValueError(f"periods_per_year must be a positive finite number (got {self.periods_per_year!r})")
        if isinstance(self.n_trials, bool) or not isinstance(self.n_trials, int | np.integer) or self.n_trials < 1:
            raise ValueError(f"n_trials must be an integer >= 1 (got {self.n_trials!r})")
        if self.trial_sharpes is not None:
            object.__setattr__(self, "trial_sharpes", [float(v) for v in self.trial_sharpes])
            if len(self.trial_sharpes) > self.n_trials:
                raise ValueError(
                    f"trial_sharpes lists {len(self.trial_sharpes)} trials but n_trials is {self.n_trials}; "
                    "n_trials must count every trial"
                )
        if self.fold_excess_returns is not None:
            object.__setattr__(self, "fold_excess_returns", [float(v) for v in self.fold_excess_returns])
        if self.leakage_passed is True and self.leaking_features:
            raise ValueError(f"leakage_passed is True but leaking_features names {', '.join(self.leaking_features)}")
        if isinstance(self.holding_period, bool) or int(self.holding_period) < 1:
            raise ValueError(f"holding_period must be an integer >= 1 (got {self.holding_period!r})")
        if not self.n_trials_source.strip():
            raise ValueError("n_trials_source must say where n_trials came from")

    @property
    def n_bars(self) -> int:
        """Number of bars with a finite strategy return in the test segment."""
        return int(np.count_nonzero(np.isfinite(self.strategy_returns)))

    @property
    def holding_periods(self) -> int:
        """Non-overlapping holding periods in the test segment (``n_bars // holding_period``)."""
        return self.n_bars // int(self.holding_period)

    @property
    def years(self) -> float:
        """Length of the test segment in years (``n_bars / periods_per_year``)."""
        return self.n_bars / self.periods_per_year

    @property
    def per_period_trial_sharpe_variance(self) -> float | None:
        """Variance (``ddof=1``) of the trials' per-period Sharpe ratios; None with fewer than 2 finite ones."""
        if self.trial_sharpes is None:
            return None
        annual = np.asarray(self.trial_sharpes, dtype=float)
        annual = annual[np.isfinite(annual)]
        if annual.size < 2:
            return None
        return float(annual.var(ddof=1)) / self.periods_per_year
