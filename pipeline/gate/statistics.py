"""Statistics behind tier 3 of the gate, as pure functions of plain arrays.

Conventions
-----------
- Every Sharpe ratio that enters PSR, DSR or the expected maximum Sharpe is **per period** (per bar, not
  annualised): ``mean / std`` of the per-bar returns, ``std`` with ``ddof=1``. Only :func:`sharpe_ratio`
  with ``periods_per_year > 1`` and :func:`min_backtest_length_years` work in annual units.
- Skewness and kurtosis are the sample (population-moment, ``bias=True``) estimates from ``scipy.stats``;
  kurtosis is the *non-excess* kind (3 for a normal distribution). With these estimates Pearson's
  inequality ``kurtosis >= 1 + skew**2`` holds exactly, so the PSR denominator can never be negative.
- Non-finite returns (NaN, inf) are dropped before anything is computed.
- Degenerate inputs (fewer than 3 finite returns, zero variance) give finite, conservative answers:
  a Sharpe ratio of 0, a PSR/DSR of 0 and a bootstrap p-value of 1 unless the evidence is unambiguous.

References
----------
Bailey, D. H. and López de Prado, M. (2012). The Sharpe ratio efficient frontier. *Journal of Risk* 15(2).
Bailey, D. H. and López de Prado, M. (2014). The deflated Sharpe ratio. *Journal of Portfolio Management* 40(5).
Bailey, D. H., Borwein, J., López de Prado, M. and Zhu, Q. J. (2014). Pseudo-mathematics and financial
charlatanism. *Notices of the AMS* 61(5).
Politis, D. N. and Romano, J. P. (1994). The stationary bootstrap. *JASA* 89(428).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import stats

from pipeline.gate._arrays import ArrayLike, _constant, _finite

EULER_GAMMA: float = float(np.euler_gamma)
"""The Euler–Mascheroni constant, used by the expected-maximum approximation."""


class ReturnMoments(NamedTuple):
    """Sample moments of a per-period return series, as PSR needs them."""

    n: int
    """Number of finite returns."""
    sharpe: float
    """Per-period Sharpe ratio (``mean / std``, ``ddof=1``); 0 when undefined."""
    skew: float
    """Sample skewness; 0 when undefined."""
    kurtosis: float
    """Sample non-excess kurtosis (3 for a normal distribution); 3 when undefined."""


def is_degenerate(returns: ArrayLike) -> bool:
    """Return whether a series has fewer than 3 finite values or is constant (up to rounding).

    Parameters
    ----------
    returns
        Per-period values; non-finite ones are dropped.

    Returns
    -------
    bool
        True when its Sharpe ratio, PSR or bootstrap carry no information.
    """
    x = _finite(returns)
    return x.size < 3 or _constant(x)


def return_moments(returns: ArrayLike) -> ReturnMoments:
    """Compute the per-period Sharpe ratio, skewness and kurtosis of a return series.

    Parameters
    ----------
    returns
        Per-period simple returns; non-finite values are dropped.

    Returns
    -------
    ReturnMoments
        ``sharpe`` is 0 when there are fewer than 2 returns or they have zero variance; ``skew`` and
        ``kurtosis`` fall back to the normal values 0 and 3 when the variance is zero or ``n < 3``.
    """
    x = _finite(returns)
    n = int(x.size)
    if n < 2 or _constant(x):
        return ReturnMoments(n, 0.0, 0.0, 3.0)
    sharpe = float(x.mean()) / float(x.std(ddof=1))
    if n < 3:
        return ReturnMoments(n, sharpe, 0.0, 3.0)
    skew = float(stats.skew(x))
    kurt = float(stats.kurtosis(x, fisher=False))
    if not (math.isfinite(skew) and math.isfinite(kurt)):
        skew, kurt = 0.0, 3.0
    return ReturnMoments(n, sharpe, skew, kurt)


def sharpe_ratio(returns: ArrayLike, periods_per_year: float = 1) -> float:
    """Compute the Sharpe ratio of per-period returns (zero risk-free rate).

    Parameters
    ----------
    returns
        Per-period simple returns; non-finite values are dropped.
    periods_per_year
        Bars per year; the per-period ratio is multiplied by its square root. Leave at 1 for the
        per-period Sharpe ratio.

    Returns
    -------
    float
        ``mean / std * sqrt(periods_per_year)`` with ``ddof=1``; 0 for fewer than 2 returns or zero variance.

    Raises
    ------
    ValueError
        If ``periods_per_year`` is not a positive finite number.
    """
    if not (math.isfinite(periods_per_year) and periods_per_year > 0):
        raise ValueError(f"periods_per_year must be a positive finite number (got {periods_per_year!r})")
    return return_moments(returns).sharpe * math.sqrt(periods_per_year)


def psr_from_moments(sharpe: float, n: int, skew: float, kurtosis: float, sr_benchmark: float = 0.0) -> float:
    """Compute the probabilistic Sharpe ratio from already estimated moments.

    ``PSR(SR*) = Φ((SR − SR*)·√(n−1) / √(1 − γ3·SR + (γ4−1)/4·SR²))`` (Bailey & López de Prado 2012).

    Parameters
    ----------
    sharpe
        Observed per-period Sharpe ratio ``SR``.
    n
        Number of returns it was estimated from.
    skew
        Skewness ``γ3`` of the returns.
    kurtosis
        Non-excess kurtosis ``γ4`` of the returns (3 for a normal distribution).
    sr_benchmark
        Per-period Sharpe ratio ``SR*`` to beat.

    Returns
    -------
    float
        The probability that the true Sharpe ratio exceeds ``SR*``; 0 when ``n < 3`` or any input is
        non-finite or the variance term is not positive (no evidence is no pass).
    """
    values = (sharpe, skew, kurtosis, sr_benchmark)
    if n < 3 or not all(math.isfinite(v) for v in values):
        return 0.0
    variance_term = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    if not variance_term > 0.0:
        return 0.0
    z = (sharpe - sr_benchmark) * math.sqrt(n - 1) / math.sqrt(variance_term)
    return float(stats.norm.cdf(z))


def probabilistic_sharpe_ratio(returns: ArrayLike, sr_benchmark: float = 0.0) -> float:
    """Compute the probabilistic Sharpe ratio of a return series against a benchmark Sharpe ratio.

    Parameters
    ----------
    returns
        Per-period simple returns; non-finite values are dropped.
    sr_benchmark
        Per-period (not annualised) Sharpe ratio ``SR*`` to beat.

    Returns
    -------
    float
        ``PSR(SR*)`` in ``[0, 1]``; 0 for fewer than 3 returns or zero variance.

    Examples
    --------
    >>> import numpy as np
    >>> r = np.random.default_rng(0).normal(0.001, 0.01, 1000)
    >>> 0.0 <= probabilistic_sharpe_ratio(r) <= 1.0
    True
    """
    if is_degenerate(returns):
        return 0.0
    m = return_moments(returns)
    return psr_from_moments(m.sharpe, m.n, m.skew, m.kurtosis, sr_benchmark)


def _check_n_trials(n_trials: int) -> None:
    if isinstance(n_trials, bool) or not isinstance(n_trials, int | np.integer) or n_trials < 1:
        raise ValueError(f"n_trials must be an integer >= 1 (got {n_trials!r})")


def expected_max_sharpe(n_trials: int, sharpe_variance: float) -> float:
    """Approximate the expected maximum Sharpe ratio of ``n_trials`` zero-skill trials.

    ``SR0 = √V · ((1−γ)·Φ⁻¹(1−1/N) + γ·Φ⁻¹(1−1/(N·e)))`` with ``γ`` the Euler–Mascheroni constant
    (Bailey & López de Prado 2014). ``SR0`` is in the units of the Sharpe ratios whose variance ``V`` is given.

    Parameters
    ----------
    n_trials
        Number ``N`` of (effectively independent) trials; 1 gives 0.
    sharpe_variance
        Variance ``V`` of the trials' Sharpe ratios (per-period for DSR).

    Returns
    -------
    float
        The expected maximum ``SR0`` (0 for ``N = 1``).

    Raises
    ------
    ValueError
        If ``n_trials < 1`` or ``sharpe_variance`` is negative or not finite.
    """
    _check_n_trials(n_trials)
    if not (math.isfinite(sharpe_variance) and sharpe_variance >= 0.0):
        raise ValueError(f"sharpe_variance must be a finite number >= 0 (got {sharpe_variance!r})")
    if n_trials == 1:
        return 0.0
    n = float(n_trials)
    z = (1.0 - EULER_GAMMA) * stats.norm.ppf(1.0 - 1.0 / n) + EULER_GAMMA * stats.norm.ppf(1.0 - 1.0 / (n * math.e))
    return math.sqrt(sharpe_variance) * float(z)


def null_sharpe_variance(returns: ArrayLike) -> float:
    """Estimate the variance of per-period Sharpe estimates when the trials' variance is unknown.

    This is the fallback used by :func:`deflated_sharpe_ratio` when ``sharpe_variance`` is None: the
    sampling variance of a Sharpe estimate over the same ``n`` returns,
    ``max(1, 1 − γ3·SR + (γ4−1)/4·SR²) / (n − 1)``, i.e. the spread the trials' Sharpe ratios would have if
    they were independent zero-skill strategies with this return distribution, never less than the
    normal zero-skill value ``1/(n−1)``. Trials of one hyper-parameter sweep are positively correlated and
    spread less than that, so the fallback deflates at least as hard as the truth in the usual case.

    Parameters
    ----------
    returns
        Per-period simple returns of the selected strategy.

    Returns
    -------
    float
        The assumed per-period Sharpe variance; 1 when there are fewer than 3 returns.
    """
    m = return_moments(returns)
    if m.n < 3:
        return 1.0
    variance_term = 1.0 - m.skew * m.sharpe + (m.kurtosis - 1.0) / 4.0 * m.sharpe**2
    return max(1.0, variance_term) / (m.n - 1)


def deflated_sharpe_ratio(returns: ArrayLike, n_trials: int, sharpe_variance: float | None) -> float:
    """Compute the deflated Sharpe ratio: PSR against the expected maximum Sharpe of ``n_trials`` trials.

    ``DSR = PSR(SR0)`` with ``SR0 = expected_max_sharpe(n_trials, sharpe_variance)`` (Bailey & López de
    Prado 2014). For ``n_trials == 1`` ``SR0 = 0`` and ``DSR = PSR(0)``.

    Parameters
    ----------
    returns
        Per-period simple returns of the selected strategy; non-finite values are dropped.
    n_trials
        Number of trials the strategy was selected from.
    sharpe_variance
        Variance of the trials' **per-period** Sharpe ratios (divide the variance of annualised Sharpe
        ratios by ``periods_per_year``). None means unknown: :func:`null_sharpe_variance` is used.

    Returns
    -------
    float
        DSR in ``[0, 1]``; 0 for degenerate returns.

    Raises
    ------
    ValueError
        If ``n_trials < 1`` or ``sharpe_variance`` is negative or not finite.
    """
    _check_n_trials(n_trials)
    variance = null_sharpe_variance(returns) if sharpe_variance is None else sharpe_variance
    sr0 = expected_max_sharpe(n_trials, variance)
    return probabilistic_sharpe_ratio(returns, sr_benchmark=sr0)


def min_backtest_length_years(n_trials: int, annual_sharpe: float) -> float:
    """Compute the minimum backtest length (MinBTL) in years for ``n_trials`` trials.

    ``MinBTL ≈ ((1−γ)·Φ⁻¹(1−1/N) + γ·Φ⁻¹(1−1/(N·e)))² / SR²`` years, with ``SR`` the annualised Sharpe
    ratio (Bailey, Borwein, López de Prado & Zhu 2014): shorter backtests let ``N`` zero-skill trials
    reach an annualised Sharpe of ``SR`` in expectation.

    Parameters
    ----------
    n_trials
        Number ``N`` of trials.
    annual_sharpe
        Annualised Sharpe ratio of the selected strategy.

    Returns
    -------
    float
        Years of data needed; 0 for ``N = 1``; ``inf`` for ``N > 1`` when ``annual_sharpe`` is not positive
        (no length of backtest makes a non-positive Sharpe ratio beat the selection bias).

    Raises
    ------
    ValueError
        If ``n_trials < 1``.
    """
    _check_n_trials(n_trials)
    if n_trials == 1:
        return 0.0
    if not (math.isfinite(annual_sharpe) and annual_sharpe > 0.0):
        return math.inf
    return (expected_max_sharpe(n_trials, 1.0) / annual_sharpe) ** 2
