"""Each gate rule passes and fails on constructed evidence, and refuses nonsensical parameters."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from pipeline.config import GateConfig
from pipeline.gate import (
    BeatBuyAndHoldRule,
    BootstrapExcessRule,
    CoverageRule,
    DeflatedSharpeRule,
    FeatureMetadataRule,
    FiniteMetricsRule,
    FoldConsistencyRule,
    GateEvidence,
    GateRule,
    HoldingPeriodsRule,
    LeakageRule,
    MetricBandRule,
    MetricThresholdRule,
    MinBacktestLengthRule,
    ModelArtifactRule,
    ProbabilisticSharpeRule,
    RuleResult,
    WinRateRule,
    evaluate_gate,
)
from pipeline.gate import statistics as st
from tests.gate.builders import benchmark_returns, good_metrics, passing_evidence

# --- tier 1 -------------------------------------------------------------------------------------------


def test_model_artifact_rule_when_missing_fails() -> None:
    rule = ModelArtifactRule()
    assert rule.evaluate(passing_evidence()).passed
    result = rule.evaluate(passing_evidence(has_model_artifact=False))
    assert (result.passed, result.value, result.tier, result.tier_name) == (False, "missing", 1, "sanity")


def test_feature_metadata_rule_when_missing_fails() -> None:
    rule = FeatureMetadataRule()
    assert rule.evaluate(passing_evidence()).passed
    assert not rule.evaluate(passing_evidence(has_feature_metadata=False)).passed


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, None, "n/a"])
def test_finite_metrics_rule_when_metric_not_finite_fails_and_names_it(bad: Any) -> None:
    result = FiniteMetricsRule().evaluate(passing_evidence(metrics=good_metrics(sortino=bad)))
    assert not result.passed
    assert result.value == 1
    assert "sortino" in result.detail


def test_finite_metrics_rule_when_required_metric_missing_fails() -> None:
    metrics = good_metrics()
    del metrics["excess_return"]
    result = FiniteMetricsRule().evaluate(passing_evidence(metrics=metrics))
    assert not result.passed
    assert "missing: excess_return" in result.detail
    assert FiniteMetricsRule(required=()).evaluate(passing_evidence(metrics=metrics)).passed


def test_finite_metrics_rule_when_no_metrics_fails() -> None:
    result = FiniteMetricsRule(required=()).evaluate(passing_evidence(metrics={}))
    assert not result.passed
    assert FiniteMetricsRule().evaluate(passing_evidence()).passed


@pytest.mark.parametrize(("coverage", "passed"), [(1.0, True), (0.98, True), (0.97, False), (math.nan, False)])
def test_coverage_rule_when_below_minimum_fails(coverage: float, passed: bool) -> None:
    result = CoverageRule(0.98).evaluate(passing_evidence(coverage=coverage))
    assert result.passed is passed
    assert result.threshold == ">= 0.98"


@pytest.mark.parametrize(("bars", "holding", "passed"), [(392, 5, True), (150, 5, True), (149, 5, False)])
def test_holding_periods_rule_counts_non_overlapping_periods(bars: int, holding: int, passed: bool) -> None:
    rng = np.random.default_rng(0)
    returns = rng.normal(0, 0.01, bars)
    evidence = passing_evidence(strategy_returns=returns, benchmark_returns=returns, holding_period=holding)
    result = HoldingPeriodsRule(30).evaluate(evidence)
    expected = ("min_holding_periods", 1, passed, bars // holding)
    assert (result.name, result.tier, result.passed, result.value) == expected


def test_low_turnover_correct_signal_is_not_failed_by_the_evidence_rule() -> None:
    """One position held through a 500-bar test window (1 round trip at most) still has 100 periods of evidence."""
    rng = np.random.default_rng(1)
    benchmark = rng.normal(0.0005, 0.01, 500)
    strategy = np.where(benchmark > -0.02, benchmark, 0.0)  # long nearly all the time, few trades
    evidence = passing_evidence(
        metrics=good_metrics(n_trades=1.0), strategy_returns=strategy, benchmark_returns=benchmark, holding_period=5
    )
    assert HoldingPeriodsRule(30).evaluate(evidence).passed


def test_noise_strategy_still_fails_the_gate() -> None:
    rng = np.random.default_rng(2)
    benchmark = rng.normal(0.0, 0.01, 500)
    noise = rng.normal(0.0, 0.01, 500)
    evidence = passing_evidence(strategy_returns=noise, benchmark_returns=benchmark, holding_period=5)
    report = evaluate_gate(evidence, GateConfig())
    assert report.rules[4].name == "min_holding_periods" and report.rules[4].passed
    assert not report.passed and {"psr", "dsr"} <= {rule.name for rule in report.failed_rules}


# --- tier 2 -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "passed"), [(0.01, True), (0.0, False), (-0.2, False)])
def test_metric_threshold_rule_when_strict_needs_value_above(value: float, passed: bool) -> None:
    rule = MetricThresholdRule("total_return", 0.0)
    result = rule.evaluate(passing_evidence(metrics=good_metrics(total_return=value)))
    assert (result.passed, result.threshold, result.tier_name) == (passed, "> 0", "performance")


def test_metric_threshold_rule_when_metric_missing_fails_with_reason() -> None:
    metrics = good_metrics()
    del metrics["sharpe"]
    result = MetricThresholdRule("sharpe", 0.5).evaluate(passing_evidence(metrics=metrics))
    assert not result.passed
    assert result.value is None
    assert "'sharpe' missing" in result.detail


@pytest.mark.parametrize(("win_rate", "review"), [(0.35, False), (0.85, False), (0.34, True), (0.9, True)])
def test_win_rate_rule_outside_band_flags_for_review_but_passes(win_rate: float, review: bool) -> None:
    result = WinRateRule(0.35, 0.85).evaluate(passing_evidence(metrics=good_metrics(win_rate=win_rate)))
    assert result.passed and result.review is review
    assert result.threshold.startswith("in [0.35, 0.85]")


@pytest.mark.parametrize(("excess", "required", "passed"), [(0.1, True, True), (-0.1, True, False), (0.0, True, False)])
def test_beat_buy_and_hold_rule_when_excess_not_positive_fails(excess: float, required: bool, passed: bool) -> None:
    result = BeatBuyAndHoldRule(required).evaluate(passing_evidence(metrics=good_metrics(excess_return=excess)))
    assert result.passed is passed


def test_beat_buy_and_hold_rule_when_not_required_reports_and_passes() -> None:
    result = BeatBuyAndHoldRule(required=False).evaluate(passing_evidence(metrics=good_metrics(excess_return=-0.3)))
    assert result.passed
    assert result.value == -0.3
    assert "not required" in result.threshold


# --- tier 3 -------------------------------------------------------------------------------------------


def _noise_evidence(**overrides: Any) -> GateEvidence:
    """Evidence whose strategy has no edge: zero-mean returns, slightly worse than the benchmark."""
    benchmark = benchmark_returns()
    noise = np.random.default_rng(21).normal(0.0, 0.01, benchmark.size)
    return passing_evidence(strategy_returns=noise - noise.mean(), benchmark_returns=benchmark, **overrides)


def test_psr_rule_when_edge_clear_passes_and_when_noise_fails() -> None:
    rule = ProbabilisticSharpeRule(0.95)
    good = rule.evaluate(passing_evidence())
    assert good.passed
    assert good.value == pytest.approx(st.probabilistic_sharpe_ratio(passing_evidence().strategy_returns))
    bad = rule.evaluate(_noise_evidence())
    assert not bad.passed
    assert bad.value == pytest.approx(0.5, abs=1e-9)


def test_psr_rule_when_returns_constant_fails_and_says_why() -> None:
    flat = np.zeros(300)
    result = ProbabilisticSharpeRule(0.95).evaluate(passing_evidence(strategy_returns=flat, benchmark_returns=flat))
    assert (result.passed, result.value) == (False, 0.0)
    assert "zero variance" in result.detail


def test_dsr_rule_when_one_trial_equals_psr() -> None:
    evidence = passing_evidence()
    assert DeflatedSharpeRule(0.95).evaluate(evidence).value == ProbabilisticSharpeRule(0.95).evaluate(evidence).value


def test_dsr_rule_when_trial_sharpes_given_converts_annual_variance_to_per_bar() -> None:
    trial_sharpes = [0.2, 1.4, -0.3, 0.9, 2.1, 0.5]
    evidence = passing_evidence(n_trials=50, trial_sharpes=trial_sharpes, n_trials_source="optuna study 's1'")
    result = DeflatedSharpeRule(0.95).evaluate(evidence)
    variance = np.var(trial_sharpes, ddof=1) / 252
    expected = st.deflated_sharpe_ratio(evidence.strategy_returns, 50, variance)
    assert result.value == pytest.approx(expected, rel=1e-12)
    assert "of 6 trial Sharpe ratios" in result.detail
    assert "N = 50 (optuna study 's1')" in result.detail


def test_dsr_rule_when_variance_unknown_uses_fallback_and_says_so() -> None:
    evidence = passing_evidence(n_trials=30, trial_sharpes=[1.0], n_trials_source="hand count")
    result = DeflatedSharpeRule(0.95).evaluate(evidence)
    assert result.value == pytest.approx(st.deflated_sharpe_ratio(evidence.strategy_returns, 30, None))
    assert "conservative fallback" in result.detail


def test_dsr_rule_when_many_trials_fails_where_psr_passes() -> None:
    # A modest edge: per-bar SR ~0.09 over 3 years clears PSR but not the best of 1000 widely spread trials.
    rng = np.random.default_rng(22)
    benchmark = benchmark_returns()
    strategy = rng.normal(0.0009, 0.01, benchmark.size)
    trial_sharpes = list(rng.normal(0.0, 1.0, 200))
    evidence = passing_evidence(
        strategy_returns=strategy, benchmark_returns=benchmark, n_trials=1000, trial_sharpes=trial_sharpes
    )
    assert ProbabilisticSharpeRule(0.95).evaluate(evidence).passed
    assert not DeflatedSharpeRule(0.95).evaluate(evidence).passed


def test_min_btl_rule_when_one_trial_passes_trivially() -> None:
    result = MinBacktestLengthRule().evaluate(passing_evidence())
    assert (result.passed, result.value) == (True, 0.0)


def test_min_btl_rule_when_window_shorter_than_min_btl_fails() -> None:
    full = passing_evidence(n_trials=10_000, n_trials_source="grid of 10000")
    min_btl = st.min_backtest_length_years(10_000, st.sharpe_ratio(full.strategy_returns, 252))
    assert 100 / 252 < min_btl < 3.0  # the constructed edge needs between 0.4 and 3 years
    passed = MinBacktestLengthRule().evaluate(full)
    assert (passed.passed, passed.value) == (True, pytest.approx(min_btl))
    short = passing_evidence(
        strategy_returns=full.strategy_returns[:100],
        benchmark_returns=full.benchmark_returns[:100],
        n_trials=10_000,
        n_trials_source="grid of 10000",
    )
    result = MinBacktestLengthRule().evaluate(short)
    assert not result.passed
    assert result.value > 100 / 252
    assert "grid of 10000" in result.detail


def test_min_btl_rule_when_sharpe_not_positive_fails_with_infinite_length() -> None:
    result = MinBacktestLengthRule().evaluate(_noise_evidence(n_trials=5))
    assert not result.passed
    assert result.value == math.inf


def test_bootstrap_rule_when_edge_clear_passes_and_noise_fails() -> None:
    rule = BootstrapExcessRule(0.10, 300)
    good = rule.evaluate(passing_evidence())
    assert good.passed
    assert good.value <= 0.01
    assert "seed 42" in good.detail
    assert not rule.evaluate(_noise_evidence()).passed


def test_bootstrap_rule_when_seed_fixed_is_reproducible() -> None:
    rule = BootstrapExcessRule(0.10, 300)
    evidence = _noise_evidence(seed=5)
    assert rule.evaluate(evidence).value == rule.evaluate(_noise_evidence(seed=5)).value


@pytest.mark.parametrize(
    ("passed", "features", "verdict", "value"),
    [(True, [], True, 0.0), (False, ["ret_fwd_5", "vol_20"], False, 2.0), (None, [], False, None)],
)
def test_leakage_rule_when_check_failed_or_missing_fails(
    passed: bool | None, features: list[str], verdict: bool, value: float | None
) -> None:
    result = LeakageRule().evaluate(passing_evidence(leakage_passed=passed, leaking_features=features))
    assert (result.passed, result.value) == (verdict, value)
    for feature in features:
        assert feature in result.detail
    if passed is None:
        assert "not run" in result.detail


@pytest.mark.parametrize(
    ("folds", "passed", "share"),
    [([0.1, 0.2, -0.1, 0.05, 0.0], True, 0.6), ([0.1, -0.2, -0.1, 0.05, math.nan], False, 0.4), ([], False, None)],
)
def test_fold_consistency_rule_when_too_few_folds_beat_fails(
    folds: list[float], passed: bool, share: float | None
) -> None:
    result = FoldConsistencyRule(0.6).evaluate(passing_evidence(fold_excess_returns=folds))
    assert result.passed is passed
    assert result.value == (pytest.approx(share) if share is not None else None)


# --- parameters and the base class ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: CoverageRule(1.5),
        lambda: CoverageRule(math.nan),
        lambda: MetricThresholdRule("sharpe", math.inf),
        lambda: MetricThresholdRule("sharpe", 0.5, op="<"),
        lambda: MetricThresholdRule("", 0.5, name="empty"),
        lambda: MetricThresholdRule("sharpe", 0.5, tier=4),
        lambda: MetricThresholdRule("sharpe", 0.5, name="Bad Name"),
        lambda: MetricBandRule("win_rate", 0.9, 0.1),
        lambda: WinRateRule(-0.1, 0.5),
        lambda: WinRateRule(0.5, 1.2),
        lambda: WinRateRule(0.8, 0.4),
        lambda: BeatBuyAndHoldRule(required="yes"),
        lambda: ProbabilisticSharpeRule(1.5),
        lambda: ProbabilisticSharpeRule(0.95, sr_benchmark=math.nan),
        lambda: DeflatedSharpeRule(-0.01),
        lambda: BootstrapExcessRule(0.0, 1000),
        lambda: BootstrapExcessRule(0.1, 0),
        lambda: BootstrapExcessRule(0.1, 10.5),
        lambda: FoldConsistencyRule(2.0),
        lambda: FiniteMetricsRule(required="sharpe"),
        lambda: FiniteMetricsRule(required=("sharpe", "")),
    ],
)
def test_rule_when_parameters_invalid_raises_value_error(build: Any) -> None:
    with pytest.raises(ValueError):
        build()


def test_gate_rule_when_subclassed_needs_only_evaluate() -> None:
    class AlwaysFails(GateRule):
        def __init__(self) -> None:
            super().__init__("always_fails", 2)

        def evaluate(self, evidence: GateEvidence) -> RuleResult:
            return self._result(1, "== 0", False, "constructed failure")

    result = AlwaysFails().evaluate(passing_evidence())
    assert result == RuleResult(2, "performance", "always_fails", 1.0, "== 0", False, "constructed failure")
    with pytest.raises(TypeError):
        GateRule("abstract", 1)  # type: ignore[abstract]


# --- evidence ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"benchmark_returns": np.zeros(10)}, "same bars"),
        ({"periods_per_year": 0.0}, "periods_per_year"),
        ({"n_trials": 0}, "n_trials"),
        ({"n_trials": 2, "trial_sharpes": [0.1, 0.2, 0.3]}, "count every trial"),
        ({"leakage_passed": True, "leaking_features": ["x"]}, "leaking_features"),
        ({"n_trials_source": "  "}, "n_trials_source"),
    ],
)
def test_evidence_when_contradictory_raises(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        passing_evidence(**overrides)


def test_evidence_when_series_given_stores_float_arrays() -> None:
    import pandas as pd

    evidence = passing_evidence(strategy_returns=pd.Series([0.01, -0.02, np.nan]), benchmark_returns=[0.0, 0.0, 0.0])
    assert isinstance(evidence.strategy_returns, np.ndarray)
    assert evidence.strategy_returns.dtype == np.float64
    assert evidence.n_bars == 2
    assert evidence.years == pytest.approx(2 / 252)


def test_dsr_rule_when_trial_sharpes_identical_uses_the_floor_never_zero() -> None:
    evidence = passing_evidence(n_trials=128, trial_sharpes=[0.5] * 10, n_trials_source="sweep")
    result = DeflatedSharpeRule(0.95).evaluate(evidence)
    floor = st.null_sharpe_variance(evidence.strategy_returns)
    assert floor > 0
    assert result.value == pytest.approx(st.deflated_sharpe_ratio(evidence.strategy_returns, 128, floor), rel=1e-12)
    assert "the floor" in result.detail
    assert result.value < ProbabilisticSharpeRule(0.95).evaluate(evidence).value
