"""Chronological, embargoed segments labelled inside each segment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.config import ExperimentConfig
from pipeline.errors import LabelError
from pipeline.labels import make_labels
from pipeline.split import build_dataset, chronological_bounds
from tests.stubs import random_walk_bars, sample_bars

TARGETS = {
    "binary": {"kind": "binary", "holding_period": 5},
    "multiclass": {"kind": "multiclass", "holding_period": 5, "thresholds": [-0.01, 0.01]},
    "triple_barrier": {"kind": "triple_barrier", "holding_period": 5, "profit_target": 0.02, "stop_loss": 0.02},
}


def _config(target: dict | None = None, split: dict | None = None) -> ExperimentConfig:
    return ExperimentConfig.model_validate(
        {
            "name": "split-test",
            "hypothesis": "segments stay apart",
            "data": {"symbol": "TEST", "start": "2020-01-01", "end": "2022-01-01"},
            "target": target or TARGETS["binary"],
            "split": split or {},
        }
    )


def _features(bars: pd.DataFrame, warmup: int = 20) -> pd.DataFrame:
    close = bars["close"]
    frame = pd.DataFrame({"ret_1": close.pct_change(), "ret_5": close.pct_change(5)}, index=bars.index)
    return frame.iloc[warmup:]


@pytest.mark.parametrize("kind", list(TARGETS))
def test_build_dataset_when_split_segments_are_chronological_and_not_shuffled(kind):
    bars = random_walk_bars(800)
    ds = build_dataset(bars, _features(bars), _config(TARGETS[kind]))
    for seg in ds.segments():
        assert seg.index.is_monotonic_increasing
        assert seg.X.index.equals(seg.y.index)
        assert seg.y.dtype == "int64"
        assert set(seg.y.unique()) <= set(range(_config(TARGETS[kind]).target.n_classes))
    assert ds.train.end < ds.validation.start
    assert ds.validation.end < ds.test.start
    assert ds.train.index.max() < ds.validation.index.min() < ds.test.index.min()


def test_build_dataset_when_split_leaves_embargo_gap_of_at_least_holding_period():
    bars = random_walk_bars(800)
    cfg = _config(split={"embargo": 8})
    features = _features(bars)
    ds = build_dataset(bars, features, cfg)
    pos = features.index.get_indexer
    for left, right in [(ds.train, ds.validation), (ds.validation, ds.test)]:
        gap = pos([right.start])[0] - pos([left.end])[0] - 1
        assert gap == cfg.embargo == 8
        assert gap >= cfg.target.holding_period
        # between the last labelled row and the next segment: the unlabelled tail plus the embargo
        labelled_gap = pos([right.index[0]])[0] - pos([left.index[-1]])[0] - 1
        assert labelled_gap >= cfg.target.holding_period + cfg.embargo


def test_build_dataset_when_default_embargo_equals_holding_period():
    bars = random_walk_bars(600)
    features = _features(bars)
    ds = build_dataset(bars, features, _config())
    assert ds.embargo == ds.holding_period == 5
    gap = features.index.get_loc(ds.validation.start) - features.index.get_loc(ds.train.end) - 1
    assert gap == 5


def test_build_dataset_when_segment_built_keeps_unlabelled_tail_in_bars_only():
    bars = random_walk_bars(600)
    ds = build_dataset(bars, _features(bars), _config())
    for seg in ds.segments():
        assert len(seg.bars) == len(seg.y) + 5
        assert seg.features.index.equals(seg.bars.index)
        assert seg.bars.index[-1] == seg.end
        # the last labelled row's horizon ends exactly at the segment's last bar
        assert seg.bars.index.get_loc(seg.index[-1]) + 5 == len(seg.bars) - 1


@pytest.mark.parametrize("kind", list(TARGETS))
def test_build_dataset_when_prices_after_a_segment_change_its_labels_do_not(kind):
    bars = random_walk_bars(800, seed=11)
    features = _features(bars)
    cfg = _config(TARGETS[kind])
    before = build_dataset(bars, features, cfg)
    for seg_name in ("train", "validation"):
        seg = getattr(before, seg_name)
        altered = bars.copy()
        after_end = altered.index > seg.end
        # an extreme move right after the segment: any label peeking past the end would flip
        altered.loc[after_end, ["open", "high", "low", "close"]] *= np.linspace(5.0, 0.01, after_end.sum())[:, None]
        again = getattr(build_dataset(altered, features, cfg), seg_name)
        pd.testing.assert_series_equal(again.y, seg.y)


def test_build_dataset_when_labelled_the_labels_equal_labels_of_the_segment_alone():
    bars = random_walk_bars(700)
    cfg = _config(TARGETS["triple_barrier"])
    ds = build_dataset(bars, _features(bars), cfg)
    for seg in ds.segments():
        alone = make_labels(bars.loc[seg.start : seg.end], cfg.target).dropna().astype("int64")
        pd.testing.assert_series_equal(seg.y, alone.loc[seg.index])


def test_build_dataset_when_segment_too_small_raises_naming_the_segment():
    bars = random_walk_bars(120)
    with pytest.raises(LabelError, match=r"^validation segment has \d+ labelled rows \(< 30\)"):
        build_dataset(bars, _features(bars), _config())


def test_build_dataset_when_train_has_a_single_class_raises():
    bars = random_walk_bars(600)
    cfg = _config({"kind": "binary", "holding_period": 5, "profit_target": 5.0})
    with pytest.raises(LabelError, match="train segment has a single class"):
        build_dataset(bars, _features(bars), cfg)


def test_build_dataset_when_feature_row_has_no_bar_raises():
    bars = random_walk_bars(300)
    features = _features(bars)
    shifted = features.copy()
    shifted.index = shifted.index + pd.Timedelta(hours=1)
    with pytest.raises(LabelError, match="has no bar"):
        build_dataset(bars, shifted, _config())


def test_build_dataset_when_fractions_given_sizes_follow_them():
    bars = random_walk_bars(1020)
    features = _features(bars)  # 1000 rows
    ds = build_dataset(bars, features, _config(split={"train": 0.5, "validation": 0.25, "test": 0.25}))
    sizes = [seg.positions[1] - seg.positions[0] for seg in ds.segments()]
    assert sizes == [495, 247, 248]
    assert ds.train.positions[0] == 0 and ds.test.positions[1] == 1000


def test_chronological_bounds_when_embargo_too_large_raises():
    with pytest.raises(LabelError, match="embargo"):
        chronological_bounds(10, 0.6, 0.2, 0.2, 5)


def test_build_dataset_when_real_sample_bars_builds_all_segments():
    bars = sample_bars("AAPL", "2005-01-01", "2010-12-31")
    ds = build_dataset(bars, _features(bars), _config(TARGETS["triple_barrier"]))
    assert len(ds.train) > len(ds.validation) > 30
    assert ds.summary()["test"]["rows"] == len(ds.test)
