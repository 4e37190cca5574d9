"""Statistics of tier 3, checked against values computed independently here and numbers from the papers."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pipeline.gate import bootstrap as bs
from pipeline.gate import statistics as st

EULER = 0.5772156649015329


def _emax_z(n: int) -> float:
    """Expected maximum of n standard normals, Bailey & López de Prado's approximation, written out here."""
    return (1 - EULER) * stats.norm.ppf(1 - 1 / n) + EULER * stats.norm.ppf(1 - 1 / (n * math.e))


# --- sharpe_ratio -------------------------------------------------------------------------------------


def test_sharpe_ratio_when_annualised_equals_mean_over_std_times_root_periods() -> None:
    r = np.random.default_rng(1).normal(0.001, 0.01, 500)
    expected = r.mean() / r.std(ddof=1) * math.sqrt(252)
    assert st.sharpe_ratio(r, 252) == pytest.approx(expected, rel=1e-12)
    assert st.sharpe_ratio(r) == pytest.approx(r.mean() / r.std(ddof=1), rel=1e-12)


def test_sharpe_ratio_when_series_or_nan_present_ignores_index_and_nans() -> None:
    r = np.random.default_rng(2).normal(0.001, 0.01, 200)
    with_nans = pd.Series(np.r_[np.nan, r, np.inf], index=pd.RangeIndex(202))
    assert st.sharpe_ratio(with_nans, 252) == pytest.approx(st.sharpe_ratio(r, 252), rel=1e-12)


@pytest.mark.parametrize("returns", [[], [0.01], [0.01, 0.01, 0.01], [0.0] * 50])
def test_sharpe_ratio_when_degenerate_returns_zero(returns: list[float]) -> None:
    assert st.sharpe_ratio(returns, 252) == 0.0


@pytest.mark.parametrize("periods", [0, -1, math.nan, math.inf])
def test_sharpe_ratio_when_periods_per_year_invalid_raises(periods: float) -> None:
    with pytest.raises(ValueError, match="periods_per_year"):
        st.sharpe_ratio([0.01, 0.02, -0.01], periods)


# --- probabilistic Sharpe ratio ----------------------------------------------------------------------


def test_psr_when_sample_given_matches_formula_with_sample_moments() -> None:
    r = np.random.default_rng(5).standard_t(5, 400) * 0.01 + 0.0008
    sr = r.mean() / r.std(ddof=1)
    g3, g4 = stats.skew(r), stats.kurtosis(r, fisher=False)
    sr_star = 0.02
    z = (sr - sr_star) * math.sqrt(len(r) - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)
    assert st.probabilistic_sharpe_ratio(r, sr_benchmark=sr_star) == pytest.approx(stats.norm.cdf(z), rel=1e-10)


def test_psr_when_returns_normal_approximates_phi_of_sr_root_n() -> None:
    # Skew ~0 and kurtosis ~3 leave only the SR²/2 term, negligible for a small per-bar Sharpe ratio.
    r = np.random.default_rng(6).normal(0.0005, 0.01, 5000)
    sr = r.mean() / r.std(ddof=1)
    assert st.probabilistic_sharpe_ratio(r) == pytest.approx(stats.norm.cdf(sr * math.sqrt(len(r) - 1)), abs=5e-3)


def test_psr_when_benchmark_sharpe_rises_falls() -> None:
    r = np.random.default_rng(7).normal(0.001, 0.01, 500)
    values = [st.probabilistic_sharpe_ratio(r, sr_benchmark=b) for b in (-0.05, 0.0, 0.05, 0.1, 0.2)]
    assert values == sorted(values, reverse=True)


@pytest.mark.parametrize("returns", [[], [0.01, 0.02], [0.001] * 100, [0.0] * 100])
def test_psr_when_degenerate_returns_zero(returns: list[float]) -> None:
    assert st.probabilistic_sharpe_ratio(returns) == 0.0


def test_psr_from_moments_when_paper_example_given_matches_formula() -> None:
    # Handworked: SR 0.1, n 101 → √100 = 10; variance term 1 + 0.05 + 0.0075 = 1.0575.
    expected = stats.norm.cdf(0.1 * 10 / math.sqrt(1 + 0.5 * 0.1 + (4 - 1) / 4 * 0.01))
    assert st.psr_from_moments(0.1, 101, -0.5, 4.0) == pytest.approx(expected, rel=1e-12)


# --- expected maximum Sharpe and deflated Sharpe ratio ----------------------------------------------


def test_expected_max_sharpe_when_one_trial_is_zero() -> None:
    assert st.expected_max_sharpe(1, 0.3) == 0.0


def test_expected_max_sharpe_when_many_trials_matches_formula_and_monte_carlo() -> None:
    assert st.expected_max_sharpe(100, 4.0) == pytest.approx(2.0 * _emax_z(100), rel=1e-12)
    simulated = np.random.default_rng(8).standard_normal((20_000, 100)).max(axis=1).mean()
    assert st.expected_max_sharpe(100, 1.0) == pytest.approx(simulated, rel=0.02)


def test_dsr_when_bailey_lopez_de_prado_example_gives_papers_numbers() -> None:
    # Bailey & López de Prado (2014), numerical example: N = 100 trials whose annualised Sharpe ratios have
    # variance 1/2, 250 daily bars a year, T = 1250 daily returns with annualised SR 2.5, skew -3, kurtosis 10
    # → SR0 ≈ 0.1132 (daily) and DSR ≈ 0.9004.
    sr0 = st.expected_max_sharpe(100, 0.5 / 250)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)
    dsr = st.psr_from_moments(2.5 / math.sqrt(250), 1250, -3.0, 10.0, sr_benchmark=sr0)
    assert dsr == pytest.approx(0.9004, abs=5e-5)


def test_dsr_when_one_trial_equals_psr_at_zero() -> None:
    r = np.random.default_rng(9).normal(0.0008, 0.01, 600)
    assert st.deflated_sharpe_ratio(r, 1, None) == st.probabilistic_sharpe_ratio(r, 0.0)
    assert st.deflated_sharpe_ratio(r, 1, 0.01) == st.probabilistic_sharpe_ratio(r, 0.0)


def test_dsr_when_trials_grow_decreases() -> None:
    r = np.random.default_rng(10).normal(0.0012, 0.01, 750)
    variance = 0.5 / 252
    values = [st.deflated_sharpe_ratio(r, n, variance) for n in (1, 2, 5, 10, 100, 1000)]
    assert all(later < earlier for earlier, later in itertools.pairwise(values))
    fallback = [st.deflated_sharpe_ratio(r, n, None) for n in (1, 2, 10, 1000)]
    assert all(later < earlier for earlier, later in itertools.pairwise(fallback))


def test_dsr_when_variance_unknown_uses_zero_skill_sampling_variance() -> None:
    r = np.random.default_rng(11).normal(0.001, 0.01, 500)
    sr, n = r.mean() / r.std(ddof=1), len(r)
    g3, g4 = stats.skew(r), stats.kurtosis(r, fisher=False)
    variance = max(1.0, 1 - g3 * sr + (g4 - 1) / 4 * sr**2) / (n - 1)
    assert st.null_sharpe_variance(r) == pytest.approx(variance, rel=1e-12)
    sr0 = math.sqrt(variance) * _emax_z(20)
    expected = st.probabilistic_sharpe_ratio(r, sr_benchmark=sr0)
    assert st.deflated_sharpe_ratio(r, 20, None) == pytest.approx(expected, rel=1e-12)
    assert st.deflated_sharpe_ratio(r, 20, None) < st.probabilistic_sharpe_ratio(r, 0.0)


@pytest.mark.parametrize("n_trials", [0, -3, 2.5, True])
def test_dsr_when_n_trials_invalid_raises(n_trials: int) -> None:
    with pytest.raises(ValueError, match="n_trials"):
        st.deflated_sharpe_ratio([0.01, -0.01, 0.02], n_trials, None)


@pytest.mark.parametrize("variance", [-0.1, math.nan, math.inf])
def test_expected_max_sharpe_when_variance_invalid_raises(variance: float) -> None:
    with pytest.raises(ValueError, match="sharpe_variance"):
        st.expected_max_sharpe(10, variance)


# --- minimum backtest length -------------------------------------------------------------------------


def test_min_btl_when_45_trials_at_sharpe_one_is_just_under_five_years() -> None:
    # Bailey, Borwein, López de Prado & Zhu (2014): with 5 years of data, no more than 45 independent
    # configurations should be tried if the target annualised Sharpe ratio is 1.
    years = st.min_backtest_length_years(45, 1.0)
    assert years == pytest.approx(_emax_z(45) ** 2, rel=1e-12)
    assert years == pytest.approx(5.0, abs=0.01)
    assert years < 5.0 < st.min_backtest_length_years(46, 1.0)
    assert years < 2 * math.log(45)  # the paper's upper bound MinBTL < 2 ln N / SR²


def test_min_btl_when_sharpe_doubles_quarters() -> None:
    assert st.min_backtest_length_years(10, 2.0) == pytest.approx(st.min_backtest_length_years(10, 1.0) / 4)


def test_min_btl_when_one_trial_is_zero_and_non_positive_sharpe_is_infinite() -> None:
    assert st.min_backtest_length_years(1, 0.5) == 0.0
    assert st.min_backtest_length_years(1, -1.0) == 0.0
    assert st.min_backtest_length_years(10, 0.0) == math.inf
    assert st.min_backtest_length_years(10, -0.5) == math.inf


# --- stationary bootstrap -----------------------------------------------------------------------------


def test_bootstrap_pvalue_when_excess_clearly_positive_is_small() -> None:
    rng = np.random.default_rng(12)
    benchmark = rng.normal(0.0003, 0.01, 750)
    strategy = benchmark + rng.normal(0.002, 0.005, 750)
    assert bs.bootstrap_excess_pvalue(strategy, benchmark, reps=500, seed=1) <= 1 / 501 + 1e-12


def test_bootstrap_pvalue_when_excess_is_zero_mean_noise_is_large() -> None:
    rng = np.random.default_rng(13)
    benchmark = rng.normal(0.0003, 0.01, 750)
    noise = rng.normal(0.0, 0.005, 750)
    strategy = benchmark + (noise - noise.mean())
    assert bs.bootstrap_excess_pvalue(strategy, benchmark, reps=500, seed=1) > 0.3
    assert bs.bootstrap_excess_pvalue(benchmark - 0.001 + noise, benchmark, reps=500, seed=1) > 0.9


def test_bootstrap_pvalue_when_seed_repeated_is_reproducible() -> None:
    rng = np.random.default_rng(14)
    benchmark = rng.normal(0.0, 0.01, 400)
    strategy = benchmark + rng.normal(0.0004, 0.006, 400)
    first = bs.bootstrap_excess_pvalue(strategy, benchmark, reps=300, seed=7)
    assert bs.bootstrap_excess_pvalue(strategy, benchmark, reps=300, seed=7) == first
    assert 0.0 < first < 1.0


def test_bootstrap_pvalue_when_block_given_resamples_blocks() -> None:
    rng = np.random.default_rng(15)
    benchmark = rng.normal(0.0, 0.01, 300)
    strategy = benchmark + rng.normal(0.0005, 0.006, 300)
    p = bs.bootstrap_excess_pvalue(strategy, benchmark, reps=200, seed=3, block_size=math.sqrt(300))
    assert 0.0 < p <= 1.0


def test_bootstrap_pvalue_when_degenerate_is_finite_and_conservative() -> None:
    assert bs.bootstrap_excess_pvalue([0.01, 0.02], [0.0, 0.0], reps=100, seed=1) == 1.0
    same = np.random.default_rng(16).normal(0, 0.01, 100)
    assert bs.bootstrap_excess_pvalue(same, same, reps=100, seed=1) == 1.0
    assert bs.bootstrap_excess_pvalue(same + 0.001, same, reps=100, seed=1) == pytest.approx(1 / 101)


def test_bootstrap_pvalue_when_lengths_differ_raises() -> None:
    with pytest.raises(ValueError, match="same length"):
        bs.bootstrap_excess_pvalue([0.01, 0.02, 0.03], [0.0, 0.0], reps=100, seed=1)


@pytest.mark.parametrize(("reps", "block"), [(0, None), (100, 0.5)])
def test_bootstrap_pvalue_when_parameters_invalid_raises(reps: int, block: float | None) -> None:
    with pytest.raises(ValueError):
        bs.bootstrap_excess_pvalue([0.01, 0.02, 0.03], [0.0, 0.0, 0.0], reps=reps, seed=1, block_size=block)


def test_stationary_block_length_when_series_autocorrelated_grows() -> None:
    rng = np.random.default_rng(17)
    white = rng.normal(size=2000)
    ar = np.zeros(2000)
    for i in range(1, 2000):
        ar[i] = 0.8 * ar[i - 1] + white[i]
    assert bs.stationary_block_length(ar) > bs.stationary_block_length(white) >= 1.0
    assert bs.stationary_block_length(np.zeros(100)) == pytest.approx(10.0)


# --- equal to arch's implementation (the gate no longer imports arch: 2-7 s per run) -------------------


@pytest.mark.parametrize("seed", [0, 5, 42])
def test_stationary_block_length_when_compared_with_arch_is_equal(seed: int) -> None:
    bootstrap = pytest.importorskip("arch.bootstrap")
    rng = np.random.default_rng(seed)
    white = rng.normal(size=800)
    ar = np.zeros(800)
    for i in range(1, 800):
        ar[i] = 0.6 * ar[i - 1] + white[i]
    for x in (white, ar, rng.standard_t(3, 300) * 0.01):
        expected = float(bootstrap.optimal_block_length(x)["stationary"].iloc[0])
        assert bs.stationary_block_length(x) == pytest.approx(min(max(expected, 1.0), x.size), rel=1e-9)


@pytest.mark.parametrize(("seed", "block"), [(1, 1.0), (7, 3.7), (42, 12.0), (3, 250.0)])
def test_stationary_bootstrap_means_when_compared_with_arch_are_equal(seed: int, block: float) -> None:
    bootstrap = pytest.importorskip("arch.bootstrap")
    values = np.random.default_rng(seed + 100).normal(0.0005, 0.01, 300)
    expected = bootstrap.StationaryBootstrap(block, values, seed=seed).apply(np.mean, 200)[:, 0]
    np.testing.assert_array_equal(bs.stationary_bootstrap_means(values, block, 200, seed), expected)


def test_bootstrap_pvalue_when_compared_with_arch_is_equal() -> None:
    bootstrap = pytest.importorskip("arch.bootstrap")
    rng = np.random.default_rng(21)
    benchmark = rng.normal(0.0002, 0.01, 500)
    strategy = benchmark + rng.normal(0.0003, 0.006, 500)
    excess = strategy - benchmark
    block = bs.stationary_block_length(excess)
    means = bootstrap.StationaryBootstrap(block, excess, seed=9).apply(np.mean, 400)[:, 0]
    expected = (1 + np.count_nonzero(means - excess.mean() >= excess.mean())) / 401
    assert bs.bootstrap_excess_pvalue(strategy, benchmark, reps=400, seed=9) == expected
