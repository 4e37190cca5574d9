"""The stationary bootstrap behind the gate's p-value, as pure functions of plain arrays.

Politis, D. N. and Romano, J. P. (1994). The stationary bootstrap. *JASA* 89(428). Block lengths follow
Politis and White (2004) with the Patton, Politis and White (2009) correction; the numbers equal the
`arch` package's (tests/gate/test_statistics.py compares them), without importing `arch` on every run.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from pipeline.gate._arrays import ArrayLike, _constant, _finite


def stationary_block_length(values: ArrayLike) -> float:
    """Choose the mean block length of a stationary bootstrap for a series.

    Use the Politis–White (2004) automatic choice with the Patton, Politis & White (2009) correction (the
    algorithm of ``arch.bootstrap.optimal_block_length``, reimplemented here to spare every run the 2-7 s
    import of ``arch``; tests compare the two), floored at 1 and capped at ``n``; fall back to ``√n`` when
    the automatic choice is undefined (for instance an almost constant series).

    Parameters
    ----------
    values
        The series to resample; non-finite values are dropped.

    Returns
    -------
    float
        Mean block length, at least 1.
    """
    x = _finite(values)
    n = x.size
    if n < 3 or _constant(x):
        return max(1.0, math.sqrt(n))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        block = _politis_white_stationary(x)
    if not math.isfinite(block):
        block = math.sqrt(n)
    return float(min(max(block, 1.0), n))


def _politis_white_stationary(x: np.ndarray) -> float:
    """Politis–White optimal mean block length of a stationary bootstrap (as ``arch`` 8 computes it)."""
    nobs = x.shape[0]
    eps = x - x.mean(0)
    b_max = np.ceil(min(3 * np.sqrt(nobs), nobs / 3))
    kn = max(5, int(np.log10(nobs)))
    m_max = int(np.ceil(np.sqrt(nobs))) + kn
    # m: twice the lag after which kn consecutive autocorrelations are inside the band ±cv
    cv = 2 * np.sqrt(np.log10(nobs) / nobs)
    acv = np.zeros(m_max + 1)
    abs_acorr = np.zeros(m_max + 1)
    opt_m: int | None = None
    for i in range(m_max + 1):
        v1 = eps[i + 1 :] @ eps[i + 1 :]
        v2 = eps[: -(i + 1)] @ eps[: -(i + 1)]
        cross_prod = eps[i:] @ eps[: nobs - i]
        acv[i] = cross_prod / nobs
        abs_acorr[i] = np.abs(cross_prod) / np.sqrt(v1 * v2)
        if i >= kn and opt_m is None and np.all(abs_acorr[i - kn : i] < cv):
            opt_m = i - kn
    m = min(2 * max(opt_m, 1) if opt_m is not None else m_max, m_max)
    g = 0.0
    lr_acv = acv[0]
    for k in range(1, m + 1):
        lam = 1 if k / m <= 1 / 2 else 2 * (1 - k / m)
        g += 2 * lam * k * acv[k]
        lr_acv += 2 * lam * acv[k]
    b_sb = ((2 * g**2) / (2 * lr_acv**2)) ** (1 / 3) * nobs ** (1 / 3)
    return float(min(b_sb, b_max))


def stationary_bootstrap_means(values: np.ndarray, block: float, reps: int, seed: int) -> np.ndarray:
    """Means of ``reps`` stationary-bootstrap resamples (Politis & Romano 1994) of ``values``.

    Draws exactly what ``arch.bootstrap.StationaryBootstrap(block, values, seed=seed).apply(np.mean, reps)``
    draws (``numpy.random.default_rng(seed)``; per replication ``n`` start indices, then ``n`` uniforms; a
    new block starts where the uniform is ``<= 1 / block``, else the previous index advances by one,
    wrapping around), so the means are the same numbers.
    """
    n = values.size
    rng = np.random.default_rng(seed)
    p = 1.0 / block
    positions = np.arange(n)
    means = np.empty(reps)
    for r in range(reps):
        starts = rng.integers(n, size=n, dtype=np.int64)
        new_block = rng.random(n) <= p
        new_block[0] = True
        block_start = np.maximum.accumulate(np.where(new_block, positions, 0))
        index = (starts[block_start] + positions - block_start) % n
        means[r] = np.mean(values[index])
    return means


def _aligned_excess(strategy: ArrayLike, benchmark: ArrayLike) -> np.ndarray:
    s = np.asarray(strategy, dtype=float).ravel()
    b = np.asarray(benchmark, dtype=float).ravel()
    if s.shape != b.shape:
        raise ValueError(f"strategy ({s.size} returns) and benchmark ({b.size} returns) must have the same length")
    keep = np.isfinite(s) & np.isfinite(b)
    return s[keep] - b[keep]


def bootstrap_excess_pvalue(
    strategy: ArrayLike,
    benchmark: ArrayLike,
    reps: int = 1000,
    seed: int = 42,
    block_size: float | None = None,
) -> float:
    """Test whether the strategy's mean per-bar excess return over the benchmark is positive.

    H0: mean excess ≤ 0. The per-bar excess ``strategy − benchmark`` is resampled with a stationary block
    bootstrap (:func:`stationary_bootstrap_means`, seeded); the bootstrap means are centred on the
    observed mean to impose the null, and ``p = (1 + #{mean* − mean ≥ mean}) / (reps + 1)``.

    Parameters
    ----------
    strategy
        Per-bar strategy returns after costs.
    benchmark
        Per-bar buy-and-hold returns over the same bars.
    reps
        Bootstrap replications.
    seed
        Seed of the bootstrap's random generator; equal inputs and seed give equal p-values.
    block_size
        Mean block length; None chooses it with :func:`stationary_block_length`.

    Returns
    -------
    float
        One-sided p-value in ``(0, 1]``; 1 for fewer than 3 bars. A constant excess gives the smallest
        p-value ``1 / (reps + 1)`` when positive and 1 otherwise.

    Raises
    ------
    ValueError
        If the series differ in length, ``reps < 1`` or ``block_size < 1``.
    """
    if reps < 1:
        raise ValueError(f"reps must be >= 1 (got {reps!r})")
    if block_size is not None and not block_size >= 1.0:
        raise ValueError(f"block_size must be >= 1 (got {block_size!r})")
    excess = _aligned_excess(strategy, benchmark)
    if excess.size < 3:
        return 1.0
    observed = float(excess.mean())
    if _constant(excess):
        return 1.0 / (reps + 1) if observed > 0.0 else 1.0
    block = stationary_block_length(excess) if block_size is None else float(block_size)
    means = stationary_bootstrap_means(excess, block, reps, seed)
    exceed = int(np.count_nonzero(means - observed >= observed))
    return (1.0 + exceed) / (reps + 1.0)
