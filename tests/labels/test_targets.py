"""Targets on small, hand-computable price series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.config import TargetConfig
from pipeline.errors import LabelError
from pipeline.labels import PROFIT_CLASS, STOP_CLASS, VERTICAL_CLASS, make_labels
from tests.stubs import random_walk_bars


def _bars(close: list[float]) -> pd.DataFrame:
    index = pd.date_range("2021-01-01", periods=len(close), freq="1D", tz="UTC", name="ts")
    c = np.asarray(close, dtype="float64")
    return pd.DataFrame({"open": c, "high": c, "low": c, "close": c, "volume": 1.0}, index=index)


def _values(series: pd.Series) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in series.to_numpy()]


def test_make_labels_when_binary_marks_forward_return_above_target():
    bars = _bars([100, 101, 99, 102, 103])
    labels = make_labels(bars, TargetConfig(kind="binary", holding_period=1))
    assert _values(labels) == [1.0, 0.0, 1.0, 1.0, None]
    assert labels.dtype == "float64"
    assert labels.name == "label"
    assert labels.index.equals(bars.index)


def test_make_labels_when_binary_with_profit_target_needs_more_than_the_target():
    bars = _bars([100, 100, 102, 101, 100])
    labels = make_labels(bars, TargetConfig(kind="binary", holding_period=2, profit_target=0.015))
    # t=0: 102/100-1 = 2% > 1.5%; t=1: 101/100-1 = 1%; t=2: 100/102-1 < 0
    assert _values(labels) == [1.0, 0.0, 0.0, None, None]


def test_make_labels_when_binary_return_equals_target_is_zero():
    bars = _bars([100, 100, 100])
    assert _values(make_labels(bars, TargetConfig(kind="binary", holding_period=1))) == [0.0, 0.0, None]


def test_make_labels_when_multiclass_orders_classes_by_thresholds():
    bars = _bars([100, 98, 98.5, 100, 100.9, 100.9])
    cfg = TargetConfig(kind="multiclass", holding_period=1, thresholds=[-0.01, 0.01])
    # returns: -2% -> 0, +0.51% -> 1, +1.52% -> 2, +0.9% -> 1, 0% -> 1
    assert _values(make_labels(bars, cfg)) == [0.0, 1.0, 2.0, 1.0, 1.0, None]


def test_make_labels_when_triple_barrier_first_touch_wins():
    cfg = TargetConfig(kind="triple_barrier", holding_period=3, profit_target=0.02, stop_loss=0.02)
    # t=0: 97 (-3%) before 105 (+5%) -> stop; t=1 from 97: 105 is +8.2% first -> profit
    bars = _bars([100, 97, 105, 90, 90, 90, 90])
    labels = _values(make_labels(bars, cfg))
    assert labels[0] == STOP_CLASS
    assert labels[1] == PROFIT_CLASS
    assert labels[-3:] == [None, None, None]


def test_make_labels_when_triple_barrier_touches_nothing_is_vertical():
    cfg = TargetConfig(kind="triple_barrier", holding_period=3, profit_target=0.02, stop_loss=0.02)
    bars = _bars([100, 101, 100, 101.5, 100.5, 100.5, 100.5])
    assert _values(make_labels(bars, cfg))[:4] == [VERTICAL_CLASS] * 4


def test_make_labels_when_triple_barrier_is_touched_exactly_counts_the_touch():
    cfg = TargetConfig(kind="triple_barrier", holding_period=2, profit_target=0.02, stop_loss=0.05)
    bars = _bars([100, 102, 50, 50])
    assert _values(make_labels(bars, cfg))[0] == PROFIT_CLASS


def test_make_labels_when_triple_barrier_matches_a_bar_by_bar_reference():
    bars = random_walk_bars(400, seed=3)
    cfg = TargetConfig(kind="triple_barrier", holding_period=7, profit_target=0.02, stop_loss=0.015)
    got = make_labels(bars, cfg).to_numpy()
    close = bars["close"].to_numpy()
    expected = np.full(len(close), np.nan)
    for t in range(len(close) - 7):  # reference implementation, deliberately naive
        expected[t] = VERTICAL_CLASS
        for j in range(1, 8):
            ret = close[t + j] / close[t] - 1
            if ret >= 0.02:
                expected[t] = PROFIT_CLASS
                break
            if ret <= -0.015:
                expected[t] = STOP_CLASS
                break
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(
    "cfg",
    [
        TargetConfig(kind="binary", holding_period=4),
        TargetConfig(kind="multiclass", holding_period=4, thresholds=[0.0, 0.02]),
        TargetConfig(kind="triple_barrier", holding_period=4, profit_target=0.01, stop_loss=0.01),
    ],
    ids=["binary", "multiclass", "triple_barrier"],
)
def test_make_labels_when_any_kind_leaves_last_horizon_unlabelled_and_classes_in_range(cfg):
    labels = make_labels(random_walk_bars(300), cfg)
    assert labels.iloc[-4:].isna().all()
    assert labels.iloc[:-4].notna().all()
    assert set(labels.dropna().unique()) <= set(range(cfg.n_classes))


def test_make_labels_when_series_shorter_than_horizon_is_all_nan():
    labels = make_labels(_bars([100, 101]), TargetConfig(kind="binary", holding_period=5))
    assert labels.isna().all()


def test_make_labels_when_close_missing_raises_label_error():
    with pytest.raises(LabelError, match="close"):
        make_labels(pd.DataFrame({"open": [1.0]}), TargetConfig())
