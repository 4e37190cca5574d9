"""Tier 3 (statistics) rules: is the edge real, or luck, selection bias or leakage?"""

from __future__ import annotations

import math

import numpy as np

from pipeline.gate import bootstrap as bs
from pipeline.gate import statistics as st
from pipeline.gate._base import GateRule, check_finite, check_unit_interval
from pipeline.gate._evidence import GateEvidence
from pipeline.gate._report import RuleResult


def _moments_text(evidence: GateEvidence) -> str:
    m = st.return_moments(evidence.strategy_returns)
    annual = m.sharpe * math.sqrt(evidence.periods_per_year)
    return (
        f"per-bar SR {m.sharpe:.4f} (annualised {annual:.2f}), skew {m.skew:.2f}, kurtosis {m.kurtosis:.2f}, "
        f"n = {m.n} bars"
    )


class ProbabilisticSharpeRule(GateRule):
    """Pass when the probabilistic Sharpe ratio against ``sr_benchmark`` reaches ``min_psr``.

    Parameters
    ----------
    min_psr
        Minimum PSR in ``[0, 1]``.
    sr_benchmark
        **Annualised** Sharpe ratio to beat (converted to per-bar with the evidence's periods per year).
    """

    def __init__(self, min_psr: float, sr_benchmark: float = 0.0) -> None:
        super().__init__("psr", 3)
        self.min_psr = check_unit_interval("min_psr", min_psr)
        self.sr_benchmark = check_finite("sr_benchmark", sr_benchmark)

    def evaluate(self, evidence: GateEvidence) -> RuleResult:
        sr_star = self.sr_benchmark / math.sqrt(evidence.periods_per_year)
        psr = st.probabilistic_sharpe_ratio(evidence.strategy_returns, sr_benchmark=sr_star)
        detail = f"PSR vs annualised SR* = {self.sr_benchmark:g}: {_moments_text(evidence)}"
        if st.is_degenerate(evidence.strategy_returns):
            detail += "; fewer than 3 bars or zero variance, PSR set to 0"
        return self._result(psr, f">= {self.min_psr:g}", psr >= self.min_psr, detail)


class DeflatedSharpeRule(GateRule):
    """Pass when the deflated Sharpe ratio (PSR against the expected best of N trials) reaches ``min_dsr``.

    The trials' Sharpe variance comes from the evidence's annualised ``trial_sharpes`` (divided by periods
    per year), never below the floor :func:`pipeline.gate.statistics.null_sharpe_variance` (the sampling variance
    of a zero-skill Sharpe over the test bars), so a few similar trials cannot collapse SR0 to zero. With
    ``n_trials > 1`` and fewer than two finite trial Sharpe ratios the floor is used; the detail says which.

    Parameters
    ----------
    min_dsr
        Minimum DSR in ``[0, 1]``.
    """

    def __init__(self, min_dsr: float) -> None:
        super().__init__("dsr", 3)
        self.min_dsr = check_unit_interval("min_dsr", min_dsr)

    def evaluate(self, evidence: GateEvidence) -> RuleResult:
        n = evidence.n_trials
        variance = evidence.per_period_trial_sharpe_variance
        if n == 1:
            variance_text = "one trial, SR0 = 0 so DSR = PSR(0)"
            used = 0.0
        elif variance is not None:
            count = int(np.count_nonzero(np.isfinite(evidence.trial_sharpes or [])))
            floor = st.null_sharpe_variance(evidence.strategy_returns)
            used = max(variance, floor)
            which = "sample variance" if variance >= floor else "floor (above the sample variance)"
            variance_text = (
                f"trial SR variance = max(sample variance of {count} trial Sharpe ratios, floor = sampling "
                f"variance of a zero-skill Sharpe over the test bars): the {which}"
            )
        else:
            used = st.null_sharpe_variance(evidence.strategy_returns)
            variance_text = (
                "trial SR variance unknown (fewer than 2 trial Sharpe ratios): conservative fallback, the "
                "sampling variance of a zero-skill Sharpe estimate over the test bars"
            )
        sr0 = st.expected_max_sharpe(n, used)
        dsr = st.probabilistic_sharpe_ratio(evidence.strategy_returns, sr_benchmark=sr0)
        detail = (
            f"N = {n} ({evidence.n_trials_source}); {variance_text}; per-bar SR0 = {sr0:.4f} "
            f"(annualised {sr0 * math.sqrt(evidence.periods_per_year):.2f}); {_moments_text(evidence)}"
        )
        return self._result(dsr, f">= {self.min_dsr:g}", dsr >= self.min_dsr, detail)


class MinBacktestLengthRule(GateRule):
    """Pass when the test segment is at least the minimum backtest length for N trials.

    The value reported is MinBTL in years, computed from the annualised Sharpe ratio of the evidence's
    per-bar strategy returns; the threshold is the test segment's length in years.
    """

    def __init__(self) -> None:
        super().__init__("min_backtest_length", 3)

    def evaluate(self, evidence: GateEvidence) -> RuleResult:
        annual = st.sharpe_ratio(evidence.strategy_returns, evidence.periods_per_year)
        min_btl = st.min_backtest_length_years(evidence.n_trials, annual)
        years = evidence.years
        passed = years >= min_btl
        detail = (
            f"N = {evidence.n_trials} ({evidence.n_trials_source}), annualised SR {annual:.2f}: MinBTL "
            f"{min_btl:.2f} y vs test window {years:.2f} y ({evidence.n_bars} bars / "
            f"{evidence.periods_per_year:g} per year)"
        )
        if evidence.n_trials == 1:
            detail += "; one trial, no selection bias to outlast"
        elif not math.isfinite(min_btl):
            detail += "; a non-positive Sharpe ratio never outlasts selection bias"
        return self._result(min_btl, f"<= {years:.2f} (test years)", passed, detail)


class BootstrapExcessRule(GateRule):
    """Pass when a stationary block bootstrap rejects "mean per-bar excess over buy-and-hold <= 0".

    Parameters
    ----------
    max_pvalue
        Largest p-value that passes, in ``(0, 1]``.
    reps
        Bootstrap replications, at least 1.
    """

    def __init__(self, max_pvalue: float, reps: int) -> None:
        super().__init__("bootstrap_pvalue", 3)
        self.max_pvalue = check_unit_interval("max_pvalue", max_pvalue)
        if self.max_pvalue == 0.0:
            raise ValueError("max_pvalue must be > 0 (no bootstrap p-value is 0)")
        if isinstance(reps, bool) or not isinstance(reps, int | np.integer) or reps < 1:
            raise ValueError(f"reps must be an integer >= 1 (got {reps!r})")
        self.reps = int(reps)

    def evaluate(self, evidence: GateEvidence) -> RuleResult:
        strategy, benchmark = evidence.strategy_returns, evidence.benchmark_returns
        keep = np.isfinite(strategy) & np.isfinite(benchmark)
        excess = strategy[keep] - benchmark[keep]
        block = bs.stationary_block_length(excess)
        pvalue = bs.bootstrap_excess_pvalue(strategy, benchmark, reps=self.reps, seed=evidence.seed, block_size=block)
        mean = float(excess.mean()) if excess.size else math.nan
        detail = (
            f"H0 mean per-bar excess <= 0; mean excess {mean:.3g} per bar over {excess.size} bars; stationary "
            f"bootstrap, {self.reps} reps, mean block {block:.1f} bars, seed {evidence.seed}"
        )
        if excess.size < 3:
            detail += "; fewer than 3 bars, p set to 1"
        return self._result(pvalue, f"<= {self.max_pvalue:g}", pvalue <= self.max_pvalue, detail)


class LeakageRule(GateRule):
    """Pass only when the look-ahead leakage check ran and found no leaking feature."""

    def __init__(self) -> None:
        super().__init__("leakage", 3)

    def evaluate(self, evidence: GateEvidence) -> RuleResult:
        threshold = "check ran, 0 leaking"
        if evidence.leakage_passed is None:
            return self._result(None, threshold, False, "leakage check was not run")
        leaking = evidence.leaking_features
        if evidence.leakage_passed:
            return self._result(0, threshold, True, "no feature changed when future bars were cut")
        named = ", ".join(leaking) if leaking else "check failed without naming a feature"
        return self._result(len(leaking), threshold, False, f"leaking features: {named}")


class FoldConsistencyRule(GateRule):
    """Pass when enough walk-forward folds beat buy-and-hold (excess return > 0).

    Parameters
    ----------
    min_share
        Minimum share of folds with positive excess return, in ``[0, 1]``.
    """

    def __init__(self, min_share: float) -> None:
        super().__init__("fold_consistency", 3)
        self.min_share = check_unit_interval("min_share", min_share)

    def evaluate(self, evidence: GateEvidence) -> RuleResult:
        threshold = f">= {self.min_share:g}"
        folds = evidence.fold_excess_returns
        if not folds:
            return self._result(None, threshold, False, "no walk-forward fold results were given")
        positive = sum(1 for value in folds if math.isfinite(value) and value > 0.0)
        share = positive / len(folds)
        listed = ", ".join(f"{value:+.3g}" for value in folds)
        detail = f"{positive}/{len(folds)} folds beat buy-and-hold; fold excess returns: {listed}"
        return self._result(share, threshold, share >= self.min_share, detail)
