"""The one decision rule shared by the vectorised backtest and the trading cycle.

Signal (probabilities -> side), holding (a fixed rebalance grid of ``holding_period`` bars) and sizing
(fixed, volatility target, probability, Kelly) live only here; :mod:`pipeline.backtest.engine` and
:mod:`pipeline.execution` both call these functions, so trading can never re-implement them. The exact
rules are documented in :mod:`pipeline.backtest.engine`'s module docstring.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import BacktestError
from pipeline.labels.targets import forward_returns

#: Gains and losses needed before the Kelly payoff ratio is estimated instead of 1.
KELLY_MIN_OBS = 20
KELLY_B_RANGE = (0.1, 10.0)


def proba_matrix(proba: Any, bars: pd.DataFrame, n_classes: int) -> np.ndarray:
    """Return an ``(n, k)`` float array aligned with ``bars`` (NaN rows where no prediction exists)."""
    n = len(bars)
    if isinstance(proba, pd.Series):
        proba = proba.to_frame()
    if isinstance(proba, pd.DataFrame):
        extra = ~proba.index.isin(bars.index)
        if extra.any():
            ts = proba.index[extra.nonzero()[0][0]]
            raise BacktestError(f"backtest: prediction at ts={ts} has no bar")
        matrix = proba.reindex(bars.index).to_numpy(dtype="float64")
    else:
        matrix = np.asarray(proba, dtype="float64")
    if matrix.ndim == 1:
        matrix = matrix[:, None]
    if matrix.ndim != 2 or matrix.shape[0] != n:
        raise BacktestError(f"backtest: proba has shape {matrix.shape}, expected ({n}, {n_classes}) rows per bar")
    if matrix.shape[1] == 1 and n_classes == 2:
        matrix = np.column_stack([1.0 - matrix[:, 0], matrix[:, 0]])
    if matrix.shape[1] != n_classes:
        raise BacktestError(f"backtest: proba has {matrix.shape[1]} columns, the target has {n_classes} classes")
    return matrix


def favourable_adverse(proba: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Map class probabilities to ``(P(favourable), P(adverse))``; NaN rows give 0 for both.

    Parameters
    ----------
    proba : numpy.ndarray
        ``(n, k)`` class probabilities.
    kind : str
        Target kind: ``binary``, ``multiclass`` or ``triple_barrier``.
    """
    if kind == "triple_barrier":
        fav, adv = proba[:, 2], proba[:, 0]
    else:  # binary: class 1 vs class 0; multiclass: top vs bottom class
        fav, adv = proba[:, -1], proba[:, 0]
    return np.nan_to_num(fav, nan=0.0), np.nan_to_num(adv, nan=0.0)


def sides(p_fav: np.ndarray, p_adv: np.ndarray, strategy: Any) -> np.ndarray:
    """Return the desired side per bar: +1 long, -1 short, 0 flat."""
    if strategy.mode == "long_flat":
        return (p_fav >= strategy.long_threshold).astype("float64")
    if strategy.mode == "protect":
        return (p_adv < strategy.risk_threshold).astype("float64")
    long_ = p_fav >= strategy.long_threshold
    short = p_adv >= strategy.short_threshold
    both = long_ & short
    side = long_.astype("float64") - short.astype("float64")
    side[both] = np.where(p_fav[both] >= p_adv[both], 1.0, -1.0)
    return side


def kelly_payoff(close: np.ndarray, horizon: int) -> np.ndarray:
    """Return the causal payoff ratio ``b`` (mean gain / mean loss of completed h-bar returns) per bar."""
    n = close.shape[0]
    fwd = forward_returns(close, horizon)  # fwd[s] is known from bar s + h on
    gains = np.where(fwd > 0, fwd, 0.0)
    losses = np.where(fwd < 0, -fwd, 0.0)
    gain_sum, loss_sum = np.cumsum(gains), np.cumsum(losses)
    gain_cnt, loss_cnt = np.cumsum(fwd > 0), np.cumsum(fwd < 0)
    b = np.ones(n)
    src = np.arange(n) - horizon  # last forward return completed at bar t
    ok = src >= 0
    s = src[ok]
    enough = (gain_cnt[s] >= KELLY_MIN_OBS) & (loss_cnt[s] >= KELLY_MIN_OBS)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (gain_sum[s] / np.maximum(gain_cnt[s], 1)) / (loss_sum[s] / np.maximum(loss_cnt[s], 1))
    est = np.where(enough & np.isfinite(ratio), ratio, 1.0)
    b[ok] = np.clip(est, *KELLY_B_RANGE)
    return b


def sizes(
    side: np.ndarray,
    p_fav: np.ndarray,
    p_adv: np.ndarray,
    bar_returns: np.ndarray,
    close: np.ndarray,
    config: Any,
    periods_per_year: float,
) -> np.ndarray:
    """Return the unsigned position size per bar (before the side), capped at ``max_leverage``."""
    sizing = config.sizing
    n = side.shape[0]
    protect = config.strategy.mode == "protect"
    p_side = np.where(side < 0, p_adv, 1.0 - p_adv if protect else p_fav)
    p_opp = np.where(side < 0, p_fav, p_adv)
    if sizing.method == "fixed":
        size = np.full(n, sizing.fraction)
    elif sizing.method == "probability":
        size = sizing.fraction * np.clip(p_side - p_opp, 0.0, 1.0)
    elif sizing.method == "kelly":
        b = kelly_payoff(close, config.target.holding_period)
        b = np.where(side < 0, 1.0 / b, b)
        size = sizing.kelly_fraction * np.maximum(0.0, (p_side * b - p_opp) / b)
    else:  # volatility_target
        lookback = sizing.volatility_lookback
        vol = pd.Series(bar_returns).rolling(lookback, min_periods=lookback).std().to_numpy(copy=True)
        vol[:lookback] = np.nan  # bar 0 has no return: the first estimate uses bars 1..lookback
        annual = vol * np.sqrt(periods_per_year)
        with np.errstate(divide="ignore", invalid="ignore"):
            size = np.where(np.isnan(annual), 0.0, sizing.target_volatility / annual)
    return np.minimum(np.nan_to_num(size, nan=0.0, posinf=sizing.max_leverage), sizing.max_leverage)


def decided_positions(
    p_fav: np.ndarray,
    p_adv: np.ndarray,
    close: np.ndarray,
    config: Any,
    periods_per_year: float,
) -> np.ndarray:
    """Return the signed position decided on each bar's close and held on the rebalance grid (not shifted).

    ``decided[t]`` is the position taken on bar ``t``'s close and held over bar ``t + 1``: the side times
    the size of the last decision bar at or before ``t`` (decision bars are every ``holding_period``-th
    bar from 0). It depends only on ``p_fav``/``p_adv`` at that decision bar and closes up to it, so a
    window that ends at ``t`` gives the same value as the whole segment (the trading cycle relies on it).

    Parameters
    ----------
    p_fav, p_adv : numpy.ndarray
        P(favourable) and P(adverse) per bar (see :func:`favourable_adverse`).
    close : numpy.ndarray
        Close prices (no NaN).
    config : ExperimentConfig
        Uses ``target.holding_period``, ``strategy`` and ``sizing``.
    periods_per_year : float
        Bars per year, for the volatility target.
    """
    n = close.shape[0]
    if n == 0:
        return np.zeros(0)
    h = config.target.holding_period
    returns = bar_returns(close)
    side = sides(p_fav, p_adv, config.strategy)
    size = sizes(side, p_fav, p_adv, returns, close, config, periods_per_year)
    decided = side * size
    return decided[(np.arange(n) // h) * h] + 0.0  # normalise -0.0


def target_positions(
    p_fav: np.ndarray,
    p_adv: np.ndarray,
    close: np.ndarray,
    config: Any,
    periods_per_year: float,
) -> np.ndarray:
    """Return the signed position held over each bar (already shifted: no look-ahead).

    ``position[t]`` earns bar ``t``'s return and was decided on the close of the last decision bar
    before ``t`` (decision bars are every ``holding_period``-th bar from 0); ``position[0] = 0``.
    Parameters as :func:`decided_positions`.
    """
    n = close.shape[0]
    if n == 0:
        return np.zeros(0)
    held = decided_positions(p_fav, p_adv, close, config, periods_per_year)
    position = np.empty(n)
    position[0] = 0.0
    position[1:] = held[:-1]
    return position + 0.0  # normalise -0.0


def position_after(
    p_fav: np.ndarray,
    p_adv: np.ndarray,
    close: np.ndarray,
    config: Any,
    periods_per_year: float,
) -> float:
    """Return the position to hold after the last bar's close: what the backtest holds over the next bar.

    The arrays run from the strategy's first bar (the anchor of the rebalance grid and of the Kelly
    statistics) to the bar just closed. Only the probabilities at decision bars matter; others may be 0.
    """
    if close.shape[0] == 0:
        return 0.0
    return float(decided_positions(p_fav, p_adv, close, config, periods_per_year)[-1])


def bar_returns(close: np.ndarray) -> np.ndarray:
    """Return close-to-close returns with ``r[0] = 0`` and 0 where a price is missing."""
    r = np.zeros(close.shape[0])
    if close.shape[0] > 1:
        with np.errstate(divide="ignore", invalid="ignore"):
            r[1:] = close[1:] / close[:-1] - 1.0
    return np.nan_to_num(r, nan=0.0, posinf=0.0, neginf=0.0)


def trade_cost(delta: float, fee_rate: float, slippage_rate: float) -> float:
    """Return the cost, as a fraction of equity, of trading ``delta`` (signed change of the equity fraction).

    A buy fills at ``close * (1 + slippage)`` and a sell at ``close * (1 - slippage)``; the fee is
    ``fee_rate`` times the *fill* notional. Per unit of equity that is ``(fee + slippage) * |delta| +
    fee * slippage * delta``: exactly what the paper broker charges (:mod:`pipeline.execution.paper`).
    """
    return (fee_rate + slippage_rate) * abs(delta) + fee_rate * slippage_rate * delta


def rebalancing_costs(
    positions: np.ndarray, bar_returns: np.ndarray, fee_rate: float, slippage_rate: float
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(turnover, cost)`` per bar of a constant-fraction portfolio rebalanced on every close.

    ``positions[t]`` is the fraction held over bar ``t``, set on bar ``t - 1``'s close. Before that
    trade the holding has drifted to ``u = positions[t-1] * (1 + r[t-1]) / (1 + R[t-1])`` of equity
    (``R`` the portfolio's own return on bar ``t - 1``, costs included), so the traded fraction is
    ``positions[t] - u`` and its :func:`trade_cost` is charged to bar ``t``'s return. ``R`` depends on
    the previous costs, hence the loop (exact, which vectorising is not). ``turnover`` is ``|positions[t]
    - u|``; with zero costs the cost is 0 and the loop is skipped.

    Parameters
    ----------
    positions, bar_returns : numpy.ndarray
        Per-bar positions (``positions[0] = 0``) and close-to-close returns (``r[0] = 0``).
    fee_rate, slippage_rate : float
        ``fee_bps / 1e4`` and ``slippage_bps / 1e4``.
    """
    n = positions.shape[0]
    pos = [float(x) for x in positions]
    ret = [float(x) for x in bar_returns]
    turnover = np.zeros(n)
    cost = np.zeros(n)
    prev_w, prev_r, prev_total = 0.0, 0.0, 0.0
    for t in range(n):
        growth = 1.0 + prev_total
        drifted = prev_w * (1.0 + prev_r) / growth if growth > 0 else 0.0
        delta = pos[t] - drifted
        turnover[t] = abs(delta)
        cost[t] = trade_cost(delta, fee_rate, slippage_rate)
        prev_w, prev_r, prev_total = pos[t], ret[t], pos[t] * ret[t] - cost[t]
    if fee_rate == 0.0 and slippage_rate == 0.0:
        cost[:] = 0.0
    return turnover, cost
