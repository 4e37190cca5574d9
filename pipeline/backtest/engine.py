"""Vectorised backtest of model predictions over one (test) segment.

Everything is numpy over whole arrays, except the exact rebalancing cost (one scalar loop over bars,
skipped at zero costs). The rules:

Probabilities -> P(favourable), P(adverse)
    binary: ``p[:, 1]`` and ``p[:, 0]`` (= 1 - p1); multiclass: the top class ``p[:, -1]`` and the bottom
    class ``p[:, 0]``; triple barrier: profit ``p[:, 2]`` and stop ``p[:, 0]``. Rows without a
    prediction (NaN, or missing from a ``proba`` DataFrame) count as ``P = 0`` for both: flat in
    ``long_flat``/``long_short``, long in ``protect``.

Signals (decided on bar ``t``'s close)
    ``long_flat``: long when ``P(fav) >= long_threshold``. ``long_short``: long when
    ``P(fav) >= long_threshold``, short when ``P(adv) >= short_threshold`` (when both hold, the larger
    probability wins, ties go long). ``protect``: long unless ``P(adv) >= risk_threshold``, then flat.

Holding rule (fixed rebalance grid)
    Decisions are taken only on every ``holding_period``-th bar of the segment (positions 0, h, 2h, ...)
    and the resulting position is held, unchanged, for the next ``h`` bars; the signal is acted on from
    bar ``t + 1`` (the position earning bar ``t``'s return was decided at bar ``t - 1``'s close or
    earlier). Every position is therefore held for a whole multiple of ``h`` bars, matching the label
    horizon, and bar 0 is always flat. The position is not liquidated after the last bar (no exit cost).

Sizing (at the decision bar, causal; ``p_side`` is the probability of the chosen side, ``p_opp`` of the
opposite one: long ``(P(fav), P(adv))``, short ``(P(adv), P(fav))``, protect long ``(1 - P(adv), P(adv))``)
    ``fixed``: ``fraction``. ``volatility_target``: ``target_volatility / (std of the last
    volatility_lookback close-to-close returns * sqrt(periods_per_year))``, flat during the first
    ``volatility_lookback`` bars while no estimate exists. ``probability``: ``fraction * clip(p_side -
    p_opp, 0, 1)`` (= ``2p - 1`` for binary). ``kelly``: ``kelly_fraction * max(0, (p_side * b - p_opp) /
    b)`` where ``b`` is the payoff ratio (mean gain / mean loss) of the ``holding_period``-bar forward
    returns already *completed* by the decision bar inside the segment, ``b = 1`` until
    ``KELLY_MIN_OBS`` gains and losses have been seen, clipped to ``[0.1, 10]``; shorts use ``1 / b``.
    Every size is capped at ``max_leverage``.

Costs and returns
    The position is a constant fraction of equity, rebalanced on every close (as the paper broker
    trades it): before bar ``t - 1``'s close trade the holding has drifted to ``u = position[t-1] * (1 +
    r[t-1]) / (1 + return[t-1])``, and ``cost[t] = (fee + slip) * |position[t] - u| + fee * slip *
    (position[t] - u)`` (rates ``bps / 1e4``; the fee is on the fill notional, slippage included; see
    :func:`pipeline.strategy.decision.rebalancing_costs`, the one home of this formula);
    ``return[t] = position[t] * (close[t] / close[t-1] - 1) - cost[t]``; ``return[0] = 0``. Trade
    returns (``extract_trades``) approximate the cost as ``(fee + slip) * |change of position|``. The
    benchmark is buy-and-hold over the same bars, without costs. Equity compounds the returns and is
    floored at 0 (ruin is absorbing).

Metrics
    Computed over the ``n - 1`` bar returns (bar 0 has none). ``max_drawdown`` is a *positive* magnitude
    (0.25 = a 25 % fall from the running peak). Sharpe and Sortino use a zero risk-free rate. Every
    degenerate value (no trades, zero variance, no down bars) is reported as 0.0, never NaN or inf.
    ``n_trades`` and ``win_rate`` count closed round trips only; an open position at the end is listed
    in ``trades`` with ``closed = False``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd

from pipeline.backtest.metrics import METRIC_NAMES, Metrics
from pipeline.errors import BacktestError
from pipeline.strategy.decision import (
    bar_returns,
    favourable_adverse,
    proba_matrix,
    rebalancing_costs,
    target_positions,
)

if TYPE_CHECKING:
    from pipeline.config import CostsConfig, SizingConfig, StrategyConfig, TargetConfig


class BacktestConfig(Protocol):
    """What a backtest reads of an experiment: :class:`~pipeline.config.ExperimentConfig` or any object with
    these sections."""

    @property
    def target(self) -> TargetConfig: ...

    @property
    def strategy(self) -> StrategyConfig: ...

    @property
    def sizing(self) -> SizingConfig: ...

    @property
    def costs(self) -> CostsConfig: ...


TRADE_COLUMNS: tuple[str, ...] = (
    "entry_time",
    "exit_time",
    "side",
    "size",
    "bars",
    "entry_price",
    "exit_price",
    "return",
    "closed",
)


@dataclass(frozen=True)
class BacktestResult:
    """Per-bar series, trades and summary metrics of one backtest.

    Attributes
    ----------
    returns, benchmark_returns : pandas.Series
        Strategy (after costs) and buy-and-hold simple returns per bar; bar 0 is 0.
    positions : pandas.Series
        Signed position (fraction of equity) held over each bar.
    equity, benchmark_equity : pandas.Series
        Compounded value of 1 unit invested before bar 0.
    trades : pandas.DataFrame
        One row per trade, columns :data:`TRADE_COLUMNS`.
    metrics : Metrics
        :data:`METRIC_NAMES`, all finite.
    """

    returns: pd.Series
    benchmark_returns: pd.Series
    positions: pd.Series
    equity: pd.Series
    benchmark_equity: pd.Series
    trades: pd.DataFrame
    metrics: Metrics = field(default_factory=Metrics)

    def to_frame(self) -> pd.DataFrame:
        """Return the per-bar series side by side (for plots and artifacts)."""
        return pd.DataFrame(
            {
                "position": self.positions,
                "returns": self.returns,
                "benchmark_returns": self.benchmark_returns,
                "equity": self.equity,
                "benchmark_equity": self.benchmark_equity,
            }
        )


# --------------------------------------------------------------------------------------------------------
# trades and metrics


def extract_trades(
    positions: np.ndarray,
    bar_returns: np.ndarray,
    close: np.ndarray,
    index: pd.Index,
    cost_rate: float,
) -> pd.DataFrame:
    """Return one row per trade: a maximal run of bars with a position of the same sign.

    A trade's return compounds ``position * bar return`` over its bars, minus its own entry cost (and
    any resizing inside it) and, when closed, the cost of closing it; resizing does not split a trade.

    Parameters
    ----------
    positions, bar_returns, close : numpy.ndarray
        Per-bar positions, close-to-close returns and closes.
    index : pandas.Index
        Bar timestamps.
    cost_rate : float
        Cost per unit of turnover (``(fee_bps + slippage_bps) / 1e4``).
    """
    n = positions.shape[0]
    sign = np.sign(positions)
    prev = np.concatenate([[0.0], sign[:-1]])
    nxt = np.concatenate([sign[1:], [0.0]])
    starts = np.flatnonzero((sign != 0) & (sign != prev))
    ends = np.flatnonzero((sign != 0) & (sign != nxt))
    if starts.size == 0:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in TRADE_COLUMNS})
    prev_pos = np.concatenate([[0.0], positions[:-1]])
    own_cost = cost_rate * np.where(sign != prev, np.abs(positions), np.abs(positions - prev_pos))
    growth = 1.0 + positions * bar_returns - own_cost
    in_trade = sign != 0
    compressed = np.cumsum(in_trade) - 1
    product = np.multiply.reduceat(growth[in_trade], compressed[starts])
    closed = ends < n - 1
    exit_cost = np.where(closed, cost_rate * np.abs(positions[ends]), 0.0)
    trade_return = product * (1.0 - exit_cost) - 1.0
    return pd.DataFrame(
        {
            "entry_time": index[starts],
            "exit_time": index[ends],
            "side": sign[starts],
            "size": np.abs(positions[starts]),
            "bars": (ends - starts + 1).astype("int64"),
            "entry_price": close[starts - 1],  # entered on the previous bar's close
            "exit_price": close[ends],
            "return": trade_return,
            "closed": closed,
        }
    )


def _finite(value: float) -> float:
    value = float(value)
    return value if np.isfinite(value) else 0.0


def compute_metrics(
    returns: np.ndarray,
    benchmark_returns: np.ndarray,
    positions: np.ndarray,
    trade_returns: np.ndarray,
    periods_per_year: float,
) -> Metrics:
    """Return :data:`METRIC_NAMES` for per-bar returns (bar 0 excluded), all finite.

    Parameters
    ----------
    returns, benchmark_returns, positions : numpy.ndarray
        Per-bar strategy returns, benchmark returns and positions; element 0 is bar 0 (no return).
    trade_returns : numpy.ndarray
        Returns of the *closed* trades.
    periods_per_year : float
        Bars per year, for annualising.
    """
    r = np.asarray(returns, dtype="float64")[1:]
    bench = np.asarray(benchmark_returns, dtype="float64")[1:]
    pos = np.asarray(positions, dtype="float64")[1:]
    n = r.shape[0]
    metrics = dict.fromkeys(METRIC_NAMES, 0.0)
    trades = np.asarray(trade_returns, dtype="float64")
    metrics["n_trades"] = float(trades.shape[0])
    metrics["win_rate"] = _finite(np.mean(trades > 0)) if trades.size else 0.0
    if n == 0:
        return Metrics.from_mapping(metrics)
    equity = np.cumprod(np.maximum(1.0 + r, 0.0))
    bench_equity = np.cumprod(np.maximum(1.0 + bench, 0.0))
    total = equity[-1] - 1.0
    years = n / periods_per_year
    with np.errstate(over="ignore", invalid="ignore"):
        annual = (equity[-1] ** (1.0 / years) - 1.0) if equity[-1] > 0 else -1.0
    sd = r.std(ddof=1) if n > 1 else 0.0
    mean = r.mean()
    downside = np.sqrt(np.mean(np.minimum(r, 0.0) ** 2))
    peak = np.maximum.accumulate(np.concatenate([[1.0], equity]))
    drawdown = float(np.max(1.0 - np.concatenate([[1.0], equity]) / np.where(peak > 0, peak, 1.0)))
    down = bench < 0
    metrics.update(
        total_return=_finite(total),
        annual_return=_finite(annual),
        annual_volatility=_finite(sd * np.sqrt(periods_per_year)),
        sharpe=_finite(mean / sd * np.sqrt(periods_per_year)) if sd > 1e-15 else 0.0,
        sortino=_finite(mean / downside * np.sqrt(periods_per_year)) if downside > 1e-15 else 0.0,
        max_drawdown=_finite(drawdown),
        calmar=_finite(annual / drawdown) if drawdown > 1e-15 else 0.0,
        exposure=_finite(np.mean(pos != 0)),
        buy_hold_return=_finite(bench_equity[-1] - 1.0),
    )
    metrics["excess_return"] = _finite(metrics["total_return"] - metrics["buy_hold_return"])
    if down.any():
        bench_down = bench[down].mean()
        metrics["downside_capture"] = _finite(r[down].mean() / bench_down) if bench_down != 0 else 0.0
    return Metrics.from_mapping(metrics)


# --------------------------------------------------------------------------------------------------------
# entry point


def run_backtest(
    bars: pd.DataFrame, proba: np.ndarray | pd.DataFrame, config: BacktestConfig, periods_per_year: float
) -> BacktestResult:
    """Trade the predictions ``proba`` over ``bars`` and measure the result against buy-and-hold.

    Parameters
    ----------
    bars : pandas.DataFrame
        Canonical bars of the segment to trade (``close`` column, ascending UTC index), typically
        ``dataset.test.bars``.
    proba : numpy.ndarray or pandas.DataFrame
        Class probabilities: an ``(n, k)`` array with one row per bar, a 1-D array of P(class 1) for a
        binary target, or a DataFrame indexed by a subset of ``bars.index`` (bars without a row get no
        prediction; see the module docstring).
    config : BacktestConfig
        Uses ``target`` (kind, classes, holding period), ``strategy``, ``sizing`` and ``costs``: an
        :class:`~pipeline.config.ExperimentConfig`, or any object with those sections.
    periods_per_year : float
        Bars per year (:func:`pipeline.timeframes.bars_per_year`).

    Returns
    -------
    BacktestResult
        Per-bar series on ``bars.index``, trades and metrics.

    Raises
    ------
    BacktestError
        If ``proba`` does not match the bars or the target's classes, or ``periods_per_year <= 0``.
    """
    if not periods_per_year or periods_per_year <= 0 or not np.isfinite(periods_per_year):
        raise BacktestError(f"backtest: periods_per_year must be positive (got {periods_per_year})")
    if "close" not in bars.columns:
        raise BacktestError("backtest: bars have no close column")
    index = bars.index
    close_series = bars["close"].astype("float64")
    close = close_series.ffill().bfill().to_numpy()
    matrix = proba_matrix(proba, bars, config.target.n_classes)
    p_fav, p_adv = favourable_adverse(matrix, config.target.kind)
    positions = target_positions(p_fav, p_adv, close, config, periods_per_year)
    per_bar = bar_returns(close)
    cost_rate = (config.costs.fee_bps + config.costs.slippage_bps) / 1e4
    _, costs = rebalancing_costs(positions, per_bar, config.costs.fee_bps / 1e4, config.costs.slippage_bps / 1e4)
    returns = positions * per_bar - costs
    equity = np.cumprod(np.maximum(1.0 + returns, 0.0))
    bench_equity = np.cumprod(1.0 + per_bar)
    trades = extract_trades(positions, per_bar, close, index, cost_rate)
    closed = trades["return"].to_numpy(dtype="float64")[trades["closed"].to_numpy(dtype=bool)]
    metrics = compute_metrics(returns, per_bar, positions, closed, periods_per_year)
    return BacktestResult(
        returns=pd.Series(returns, index=index, name="returns"),
        benchmark_returns=pd.Series(per_bar, index=index, name="benchmark_returns"),
        positions=pd.Series(positions, index=index, name="position"),
        equity=pd.Series(equity, index=index, name="equity"),
        benchmark_equity=pd.Series(bench_equity, index=index, name="benchmark_equity"),
        trades=trades,
        metrics=metrics,
    )
