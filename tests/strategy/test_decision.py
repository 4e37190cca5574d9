"""The shared decision rule: a window ending at bar t decides what the backtest holds over bar t + 1."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.backtest import run_backtest
from pipeline.config import ExperimentConfig
from pipeline.strategy import favourable_adverse, position_after, proba_matrix
from tests.stubs import random_walk_bars

PPY = 252.0


def _config(sizing: dict, holding: int) -> ExperimentConfig:
    return ExperimentConfig.model_validate(
        {
            "name": "decision-test",
            "hypothesis": "one rule decides for backtest and trading",
            "data": {"symbol": "TEST", "start": "2020-01-01", "end": "2022-01-01"},
            "target": {"kind": "binary", "holding_period": holding},
            "strategy": {"mode": "long_short", "long_threshold": 0.55, "short_threshold": 0.55},
            "sizing": sizing,
        }
    )


@pytest.mark.parametrize(
    ("sizing", "holding"),
    [({"method": "kelly"}, 3), ({"method": "volatility_target", "volatility_lookback": 10}, 1)],
)
def test_position_after_when_window_ends_at_each_bar_equals_backtest_next_position(sizing, holding):
    bars = random_walk_bars(160)
    rng = np.random.default_rng(7)
    p1 = rng.uniform(0.2, 0.8, len(bars))
    cfg = _config(sizing, holding)
    full = run_backtest(bars, np.column_stack([1 - p1, p1]), cfg, PPY).positions.to_numpy()
    p_fav, p_adv = favourable_adverse(proba_matrix(np.column_stack([1 - p1, p1]), bars, 2), "binary")
    close = bars["close"].to_numpy()
    online = [position_after(p_fav[: t + 1], p_adv[: t + 1], close[: t + 1], cfg, PPY) for t in range(len(bars) - 1)]
    assert np.count_nonzero(full) > 10
    np.testing.assert_array_equal(np.asarray(online), full[1:])
