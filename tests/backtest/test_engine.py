"""Vectorised backtest on hand-computable cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.backtest import METRIC_NAMES, compute_metrics, run_backtest
from pipeline.config import ExperimentConfig
from pipeline.errors import BacktestError
from pipeline.split import build_dataset
from pipeline.timeframes import bars_per_year
from tests.stubs import random_walk_bars, sample_bars

PPY = 252.0


def _config(
    *,
    target: dict | None = None,
    strategy: dict | None = None,
    sizing: dict | None = None,
    costs: dict | None = None,
) -> ExperimentConfig:
    return ExperimentConfig.model_validate(
        {
            "name": "bt-test",
            "hypothesis": "predictions become positions",
            "data": {"symbol": "TEST", "start": "2020-01-01", "end": "2022-01-01"},
            "target": target or {"kind": "binary", "holding_period": 1},
            "strategy": strategy or {},
            "sizing": sizing or {},
            "costs": costs if costs is not None else {"fee_bps": 0.0, "slippage_bps": 0.0},
        }
    )


def _bars(close: list[float] | np.ndarray) -> pd.DataFrame:
    c = np.asarray(close, dtype="float64")
    index = pd.date_range("2021-01-01", periods=len(c), freq="1D", tz="UTC", name="ts")
    return pd.DataFrame({"open": c, "high": c, "low": c, "close": c, "volume": 1.0}, index=index)


def _binary(p1: float | np.ndarray, n: int) -> np.ndarray:
    p = np.broadcast_to(np.asarray(p1, dtype="float64"), (n,))
    return np.column_stack([1.0 - p, p])


def _paper_returns(close: np.ndarray, positions: np.ndarray, fee_bps: float, slippage_bps: float) -> np.ndarray:
    """Shares and cash, rebalanced to ``positions[t+1]`` of equity on each close as the paper broker does it.

    Buys fill at ``close * (1 + slippage)``, sells at ``close * (1 - slippage)``, the fee is on the fill notional.
    """
    fee, slip = fee_bps / 1e4, slippage_bps / 1e4
    cash, shares, equity = 1.0, 0.0, [1.0]
    for t in range(len(close)):
        if t:
            equity.append(cash + shares * close[t])
        if t + 1 < len(close):
            delta = positions[t + 1] * equity[-1] / close[t] - shares
            price = close[t] * (1 + np.sign(delta) * slip)
            cash -= delta * price + fee * abs(delta) * price
            shares += delta
    eq = np.asarray(equity)
    return np.concatenate([[0.0], eq[1:] / eq[:-1] - 1.0])


def test_run_backtest_when_always_long_equals_buy_and_hold_minus_one_entry_cost():
    bars = random_walk_bars(300)
    cfg = _config(costs={"fee_bps": 1.0, "slippage_bps": 2.0}, target={"kind": "binary", "holding_period": 5})
    res = run_backtest(bars, _binary(1.0, len(bars)), cfg, PPY)
    r = res.benchmark_returns.to_numpy()
    assert res.positions.iloc[0] == 0.0 and (res.positions.iloc[1:] == 1.0).all()
    expected = r.copy()
    expected[1] -= 3e-4 + 2e-8  # entry: (fee + slip) + fee * slip (the fee is on the slipped price)
    # afterwards only the sale that pays the entry fee (second order): returns stay within 1e-7 of buy and hold
    np.testing.assert_allclose(res.returns.to_numpy(), expected, rtol=0, atol=1e-7)
    assert res.returns.iloc[1] == pytest.approx(expected[1], abs=1e-15)
    np.testing.assert_allclose(
        res.returns.to_numpy(),
        _paper_returns(bars["close"].to_numpy(), res.positions.to_numpy(), 1.0, 2.0),
        rtol=0,
        atol=1e-14,
    )
    bh = bars["close"].iloc[-1] / bars["close"].iloc[0]
    assert res.metrics["buy_hold_return"] == pytest.approx(bh - 1)
    assert res.equity.iloc[-1] == pytest.approx(bh * (1 + r[1] - 3e-4) / (1 + r[1]), rel=1e-6)
    assert res.metrics["n_trades"] == 0.0  # still open at the end: not a closed round trip
    assert res.trades["closed"].tolist() == [False]
    assert res.metrics["downside_capture"] == pytest.approx(1.0)


def test_run_backtest_when_costs_charged_reduce_returns_by_fee_plus_slippage_per_turnover():
    bars = random_walk_bars(400, seed=5)
    rng = np.random.default_rng(1)
    proba = _binary(rng.random(len(bars)), len(bars))
    free = run_backtest(bars, proba, _config(strategy={"mode": "long_short"}), PPY)
    paid = run_backtest(
        bars, proba, _config(strategy={"mode": "long_short"}, costs={"fee_bps": 4.0, "slippage_bps": 6.0}), PPY
    )
    turnover = np.abs(np.diff(free.positions.to_numpy(), prepend=0.0))
    assert turnover.sum() > 10
    # first order: (fee + slip) per unit of position change; the rest is drift rebalancing (<= 2e-4 per bar)
    np.testing.assert_allclose(free.returns - paid.returns, 10e-4 * turnover, rtol=0, atol=2e-4)
    close = bars["close"].to_numpy()
    paper = _paper_returns(close, paid.positions.to_numpy(), 4.0, 6.0)
    np.testing.assert_allclose(paid.returns.to_numpy(), paper, rtol=0, atol=1e-13)  # exactly what a paper account earns


def test_run_backtest_when_protect_and_adverse_probability_high_stays_flat():
    bars = random_walk_bars(100)
    cfg = _config(strategy={"mode": "protect", "risk_threshold": 0.6})
    flat = run_backtest(bars, _binary(0.3, len(bars)), cfg, PPY)  # P(adverse) = 0.7
    assert (flat.positions == 0).all()
    assert flat.metrics["total_return"] == 0.0
    invested = run_backtest(bars, _binary(0.5, len(bars)), cfg, PPY)  # P(adverse) = 0.5 < 0.6: long
    assert (invested.positions.iloc[1:] == 1.0).all()


def test_run_backtest_when_protect_gets_no_prediction_stays_long():
    bars = random_walk_bars(50)
    proba = pd.DataFrame(_binary(0.9, 10), index=bars.index[:10])  # predictions for the first 10 bars only
    res = run_backtest(bars, proba, _config(strategy={"mode": "protect"}), PPY)
    assert (res.positions.iloc[1:] == 1.0).all()
    long_flat = run_backtest(bars, proba, _config(), PPY)
    assert (long_flat.positions.iloc[1:11] == 1.0).all() and (long_flat.positions.iloc[11:] == 0.0).all()


def test_run_backtest_when_long_short_and_adverse_likely_earns_the_short_leg():
    bars = _bars([100, 110, 99, 99, 108.9])
    cfg = _config(strategy={"mode": "long_short"}, costs={"fee_bps": 10.0, "slippage_bps": 0.0})
    res = run_backtest(bars, _binary(0.0, 5), cfg, PPY)
    assert res.positions.tolist() == [0.0, -1.0, -1.0, -1.0, -1.0]
    np.testing.assert_allclose(res.returns.to_numpy(), [0.0, -0.1 - 1e-3, 0.1, 0.0, -0.1], atol=3e-4)
    paper = _paper_returns(np.array([100, 110, 99, 99, 108.9]), res.positions.to_numpy(), 10.0, 0.0)
    np.testing.assert_allclose(res.returns.to_numpy(), paper, rtol=0, atol=1e-14)


def test_run_backtest_when_long_short_flips_closes_one_trade_and_opens_another():
    bars = _bars([100, 100, 110, 110, 99, 99])
    p1 = np.array([1.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    res = run_backtest(bars, _binary(p1, 6), _config(strategy={"mode": "long_short"}), PPY)
    assert res.positions.tolist() == [0.0, 1.0, 1.0, -1.0, -1.0, -1.0]
    trades = res.trades
    assert trades["side"].tolist() == [1.0, -1.0]
    assert trades["closed"].tolist() == [True, False]
    assert trades["return"].iloc[0] == pytest.approx(0.10)
    assert trades["entry_price"].iloc[0] == 100 and trades["exit_price"].iloc[0] == 110
    assert res.metrics["n_trades"] == 1.0 and res.metrics["win_rate"] == 1.0


def test_run_backtest_when_triple_barrier_maps_profit_and_stop_classes():
    bars = random_walk_bars(30)
    cfg = _config(
        target={"kind": "triple_barrier", "holding_period": 1, "profit_target": 0.01, "stop_loss": 0.01},
        strategy={"mode": "long_short", "long_threshold": 0.5, "short_threshold": 0.5},
    )
    proba = np.tile([0.1, 0.3, 0.6], (30, 1))
    proba[15:] = [0.6, 0.3, 0.1]
    pos = run_backtest(bars, proba, cfg, PPY).positions.to_numpy()
    assert (pos[1:16] == 1.0).all() and (pos[16:] == -1.0).all()


def test_run_backtest_when_multiclass_uses_top_and_bottom_classes():
    bars = random_walk_bars(20)
    cfg = _config(
        target={"kind": "multiclass", "holding_period": 1, "thresholds": [-0.01, 0.0, 0.01]},
        strategy={"mode": "long_short", "long_threshold": 0.4, "short_threshold": 0.4},
    )
    proba = np.tile([0.05, 0.25, 0.25, 0.45], (20, 1))
    proba[10:] = [0.45, 0.25, 0.25, 0.05]
    pos = run_backtest(bars, proba, cfg, PPY).positions.to_numpy()
    assert (pos[1:11] == 1.0).all() and (pos[11:] == -1.0).all()


def test_run_backtest_when_last_bar_changes_positions_do_not():
    bars = random_walk_bars(200, seed=2)
    proba = _binary(np.random.default_rng(4).random(200), 200)
    cfg = _config(target={"kind": "binary", "holding_period": 3}, sizing={"method": "volatility_target"})
    base = run_backtest(bars, proba, cfg, PPY)
    moved = bars.copy()
    moved.iloc[-1, moved.columns.get_loc("close")] *= 3.0
    changed_proba = proba.copy()
    changed_proba[-1] = [0.0, 1.0]
    other = run_backtest(moved, changed_proba, cfg, PPY)
    pd.testing.assert_series_equal(base.positions, other.positions)


def test_run_backtest_when_prediction_changes_position_moves_only_from_next_bar():
    bars = random_walk_bars(40)
    p1 = np.zeros(40)
    base = run_backtest(bars, _binary(p1, 40), _config(), PPY).positions.to_numpy()
    p1[20] = 1.0
    after = run_backtest(bars, _binary(p1, 40), _config(), PPY).positions.to_numpy()
    changed = np.flatnonzero(base != after)
    assert changed.tolist() == [21]


def test_run_backtest_when_holding_period_set_positions_change_only_on_the_grid():
    h = 4
    bars = random_walk_bars(101)
    p1 = np.tile([1.0, 0.0], 51)[:101]  # the signal flips every bar
    res = run_backtest(bars, _binary(p1, 101), _config(target={"kind": "binary", "holding_period": h}), PPY)
    pos = res.positions.to_numpy()
    change_bars = np.flatnonzero(np.diff(pos)) + 1
    assert ((change_bars - 1) % h == 0).all()
    assert (res.trades["bars"] % h == 0).all()
    assert res.trades["bars"].min() >= h


def test_run_backtest_when_never_trading_gives_finite_zero_metrics():
    bars = random_walk_bars(100)
    res = run_backtest(bars, _binary(0.0, 100), _config(), PPY)
    assert set(res.metrics) == set(METRIC_NAMES)
    assert all(np.isfinite(v) for v in res.metrics.values())
    for name in ("total_return", "sharpe", "sortino", "max_drawdown", "calmar", "win_rate", "n_trades", "exposure"):
        assert res.metrics[name] == 0.0
    assert res.metrics["excess_return"] == pytest.approx(-res.metrics["buy_hold_return"])
    assert res.trades.empty and list(res.trades.columns)


@pytest.mark.parametrize("n", [0, 1, 2, 5])
def test_run_backtest_when_prices_constant_or_series_tiny_metrics_are_finite(n):
    bars = _bars([100.0] * n)
    res = run_backtest(bars, _binary(1.0, n), _config(sizing={"method": "volatility_target"}), PPY)
    assert all(np.isfinite(v) for v in res.metrics.values())
    assert res.metrics["sharpe"] == 0.0 and res.metrics["downside_capture"] == 0.0


def test_compute_metrics_when_hand_computed_drawdown_is_a_positive_magnitude():
    returns = np.array([0.0, 0.10, -0.20, 0.05])
    m = compute_metrics(returns, returns, np.array([0, 1, 1, 1.0]), np.array([0.2, -0.1, 0.0]), periods_per_year=3)
    assert m["max_drawdown"] == pytest.approx(0.20)
    assert m["total_return"] == pytest.approx(1.1 * 0.8 * 1.05 - 1)
    assert m["annual_return"] == pytest.approx(m["total_return"])  # 3 bars at 3 per year = one year
    assert m["calmar"] == pytest.approx(m["annual_return"] / 0.20)
    assert m["win_rate"] == pytest.approx(1 / 3) and m["n_trades"] == 3.0
    assert m["exposure"] == 1.0 and m["downside_capture"] == pytest.approx(1.0)
    r = returns[1:]
    assert m["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * np.sqrt(3))
    assert m["sortino"] == pytest.approx(r.mean() / np.sqrt(np.mean(np.minimum(r, 0) ** 2)) * np.sqrt(3))


@pytest.mark.parametrize(
    "sizing",
    [
        {"method": "fixed", "fraction": 3.0, "max_leverage": 2.0},
        {"method": "volatility_target", "target_volatility": 5.0, "max_leverage": 1.5},
        {"method": "volatility_target", "target_volatility": 0.05, "volatility_lookback": 5},
        {"method": "probability", "fraction": 4.0, "max_leverage": 0.7},
        {"method": "kelly", "kelly_fraction": 1.0, "max_leverage": 0.3},
    ],
    ids=["fixed", "vol-high", "vol-low", "probability", "kelly"],
)
@pytest.mark.parametrize("mode", ["long_flat", "long_short", "protect"])
def test_run_backtest_when_any_sizing_positions_are_bounded_by_max_leverage(sizing, mode):
    bars = random_walk_bars(300, seed=9)
    proba = _binary(np.random.default_rng(2).random(300), 300)
    res = run_backtest(bars, proba, _config(sizing=sizing, strategy={"mode": mode}), PPY)
    cap = sizing.get("max_leverage", 1.0)
    assert (res.positions.abs() <= cap + 1e-12).all()
    assert (res.positions != 0).any()
    assert all(np.isfinite(v) for v in res.metrics.values())


def test_run_backtest_when_fixed_fraction_above_cap_is_capped():
    bars = random_walk_bars(20)
    res = run_backtest(bars, _binary(1.0, 20), _config(sizing={"fraction": 3.0, "max_leverage": 2.0}), PPY)
    assert (res.positions.iloc[1:] == 2.0).all()


def test_run_backtest_when_probability_sizing_scales_by_two_p_minus_one():
    bars = random_walk_bars(20)
    res = run_backtest(bars, _binary(0.75, 20), _config(sizing={"method": "probability"}), PPY)
    assert res.positions.iloc[1:].tolist() == pytest.approx([0.5] * 19)


def test_run_backtest_when_kelly_without_history_uses_even_payoff():
    bars = random_walk_bars(20)
    cfg = _config(sizing={"method": "kelly", "kelly_fraction": 0.5})
    res = run_backtest(bars, _binary(0.75, 20), cfg, PPY)
    # b = 1 until enough completed returns: 0.5 * (0.75 * 1 - 0.25) / 1 = 0.25
    assert res.positions.iloc[1:].tolist() == pytest.approx([0.25] * 19)


@pytest.mark.parametrize("method", ["volatility_target", "kelly"])
def test_run_backtest_when_future_prices_change_earlier_sizes_do_not(method):
    bars = random_walk_bars(400, seed=21)
    proba = _binary(0.8, 400)
    cfg = _config(sizing={"method": method, "max_leverage": 5.0}, target={"kind": "binary", "holding_period": 2})
    base = run_backtest(bars, proba, cfg, PPY).positions
    moved = bars.copy()
    moved.iloc[300:, moved.columns.get_loc("close")] *= np.linspace(1.0, 4.0, 100)
    other = run_backtest(moved, proba, cfg, PPY).positions
    pd.testing.assert_series_equal(base.iloc[:301], other.iloc[:301])
    assert not base.iloc[301:].equals(other.iloc[301:])


def test_run_backtest_when_volatility_target_warms_up_flat():
    bars = random_walk_bars(60)
    res = run_backtest(bars, _binary(1.0, 60), _config(sizing={"method": "volatility_target"}), PPY)
    pos = res.positions.to_numpy()
    assert (pos[:21] == 0).all() and (pos[21:] > 0).all()  # first estimate on bar 20's close


def test_run_backtest_when_proba_does_not_match_raises():
    bars = random_walk_bars(20)
    with pytest.raises(BacktestError, match="shape"):
        run_backtest(bars, _binary(0.5, 19), _config(), PPY)
    with pytest.raises(BacktestError, match="3 columns"):
        run_backtest(bars, np.full((20, 3), 1 / 3), _config(), PPY)
    with pytest.raises(BacktestError, match="periods_per_year"):
        run_backtest(bars, _binary(0.5, 20), _config(), 0.0)


def test_run_backtest_when_binary_proba_given_as_one_column_is_p_of_class_one():
    bars = random_walk_bars(30)
    p1 = np.random.default_rng(3).random(30)
    a = run_backtest(bars, p1, _config(), PPY)
    b = run_backtest(bars, _binary(p1, 30), _config(), PPY)
    pd.testing.assert_series_equal(a.positions, b.positions)


def test_run_backtest_when_run_on_a_test_segment_aligns_with_its_bars():
    bars = sample_bars("MSFT", "2005-01-01", "2012-12-31")
    features = pd.DataFrame({"r": bars["close"].pct_change()}, index=bars.index).iloc[5:]
    cfg = _config(target={"kind": "binary", "holding_period": 5}, costs={"fee_bps": 1.0, "slippage_bps": 2.0})
    test = build_dataset(bars, features, cfg).test
    proba = pd.DataFrame(_binary(np.random.default_rng(0).random(len(test.features)), len(test.features)))
    proba.index = test.features.index
    res = run_backtest(test.bars, proba, cfg, bars_per_year("1d", "equity"))
    frame = res.to_frame()
    assert frame.index.equals(test.bars.index)
    assert list(frame.columns) == ["position", "returns", "benchmark_returns", "equity", "benchmark_equity"]
    assert res.equity.iloc[-1] == pytest.approx(1 + res.metrics["total_return"])
    assert res.benchmark_equity.iloc[-1] == pytest.approx(test.bars["close"].iloc[-1] / test.bars["close"].iloc[0])
    closed = res.trades[res.trades["closed"]]
    assert res.metrics["n_trades"] == len(closed)
    assert 0 < res.metrics["exposure"] < 1


def test_run_backtest_when_trade_closed_its_return_includes_entry_and_exit_costs():
    bars = _bars([100, 100, 110, 110])
    cfg = _config(costs={"fee_bps": 6.0, "slippage_bps": 4.0})
    res = run_backtest(bars, _binary(np.array([1.0, 1.0, 0.0, 0.0]), 4), cfg, PPY)
    assert res.positions.tolist() == [0.0, 1.0, 1.0, 0.0]
    expected = 0.999 * 1.1 * 0.999 - 1
    assert res.trades["return"].tolist() == pytest.approx([expected])
    assert res.metrics["total_return"] == pytest.approx(expected, abs=5e-6)  # + second-order rebalancing cost
    assert res.trades["bars"].tolist() == [2]
