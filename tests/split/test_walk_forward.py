"""Walk-forward folds: positions and labelled per-fold datasets."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.config import ExperimentConfig
from pipeline.errors import LabelError
from pipeline.split import build_walk_forward, walk_forward_folds
from tests.stubs import random_walk_bars


def _config(split: dict) -> ExperimentConfig:
    return ExperimentConfig.model_validate(
        {
            "name": "wf-test",
            "hypothesis": "folds walk forward",
            "data": {"symbol": "TEST", "start": "2020-01-01", "end": "2022-01-01"},
            "target": {"kind": "binary", "holding_period": 3},
            "split": split,
        }
    )


def test_walk_forward_folds_when_rolling_keeps_train_size_and_embargo():
    folds = walk_forward_folds(1000, 4, train_bars=300, test_bars=100, embargo=5)
    assert [f.test for f in folds] == [(600, 700), (700, 800), (800, 900), (900, 1000)]
    for fold in folds:
        assert fold.train_rows == 300
        assert fold.test[0] - fold.train[1] == 5
        assert fold.train[1] <= fold.test[0]


def test_walk_forward_folds_when_expanding_starts_every_train_window_at_zero():
    folds = walk_forward_folds(1000, 3, train_bars=400, test_bars=150, embargo=2, expanding=True)
    assert all(f.train[0] == 0 for f in folds)
    assert [f.train_rows for f in folds] == [548, 698, 848]


def test_walk_forward_folds_when_sizes_missing_derives_them_from_rows():
    folds = walk_forward_folds(1005, 5, embargo=5)
    assert [f.test_rows for f in folds] == [100] * 5
    assert folds[0].train == (0, 500)
    assert folds[-1].test[1] == 1005
    only_train = walk_forward_folds(1005, 5, train_bars=200, embargo=5)
    assert only_train[0].test_rows == 160
    only_test = walk_forward_folds(1005, 5, test_bars=50, embargo=5)
    assert only_test[0].train == (0, 750)


def test_walk_forward_folds_when_windows_do_not_fit_raises():
    with pytest.raises(LabelError, match="do not fit in 500 rows"):
        walk_forward_folds(500, 5, train_bars=300, test_bars=50, embargo=5)


def test_build_walk_forward_when_built_each_fold_is_chronological_and_embargoed():
    bars = random_walk_bars(1200)
    features = pd.DataFrame({"r": bars["close"].pct_change()}, index=bars.index).iloc[10:]
    cfg = _config({"method": "walk_forward", "folds": 4, "train_bars": 400, "test_bars": 150})
    datasets = build_walk_forward(bars, features, cfg)
    assert [d.fold for d in datasets] == [0, 1, 2, 3]
    pos = features.index.get_loc
    for ds in datasets:
        assert ds.train.end < ds.validation.start < ds.validation.end < ds.test.start
        assert pos(ds.validation.start) - pos(ds.train.end) - 1 == cfg.embargo
        assert pos(ds.test.start) - pos(ds.validation.end) - 1 == cfg.embargo
        assert ds.test.positions[1] - ds.test.positions[0] == 150
        assert ds.train.positions[0] + 400 == ds.validation.positions[1]
    assert datasets[-1].test.end == features.index[-1]


def test_build_walk_forward_when_fold_too_small_names_the_fold():
    bars = random_walk_bars(400)
    features = pd.DataFrame({"r": bars["close"].pct_change()}, index=bars.index).iloc[10:]
    cfg = _config({"method": "walk_forward", "folds": 3, "train_bars": 60, "test_bars": 20})
    with pytest.raises(LabelError, match=r"^walk_forward fold 0 "):
        build_walk_forward(bars, features, cfg)
