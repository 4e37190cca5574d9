"""data_fingerprint: deterministic over the exact bars, sensitive to any value or timestamp."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.tracking.fingerprint import data_fingerprint
from tests.stubs import random_walk_bars


def test_data_fingerprint_when_same_bars_is_stable() -> None:
    bars = random_walk_bars(200)
    first = data_fingerprint(bars)
    assert len(first) == 64
    assert data_fingerprint(random_walk_bars(200)) == first
    assert data_fingerprint(bars.copy()) == first
    assert data_fingerprint(bars[["volume", "close", "low", "high", "open"]]) == first


def test_data_fingerprint_when_source_column_present_ignores_it() -> None:
    bars = random_walk_bars(50)
    assert data_fingerprint(bars.assign(source="sample")) == data_fingerprint(bars)


def test_data_fingerprint_when_one_value_changes_differs() -> None:
    bars = random_walk_bars(200)
    changed = bars.copy()
    changed.iloc[137, changed.columns.get_loc("close")] += 1e-9
    assert data_fingerprint(changed) != data_fingerprint(bars)


def test_data_fingerprint_when_timestamp_or_length_changes_differs() -> None:
    bars = random_walk_bars(100)
    shifted = bars.copy()
    shifted.index = shifted.index + pd.Timedelta(hours=1)
    assert data_fingerprint(shifted) != data_fingerprint(bars)
    assert data_fingerprint(bars.iloc[:-1]) != data_fingerprint(bars)


def test_data_fingerprint_when_volume_nan_is_stable() -> None:
    bars = random_walk_bars(30)
    bars["volume"] = np.nan
    assert data_fingerprint(bars) == data_fingerprint(bars.copy())
    assert data_fingerprint(bars) != data_fingerprint(bars.fillna(0.0))


def test_data_fingerprint_when_timezone_differs_hashes_same_instant() -> None:
    bars = random_walk_bars(30)
    other = bars.copy()
    other.index = other.index.tz_convert("America/New_York")
    assert data_fingerprint(other) == data_fingerprint(bars)


def test_data_fingerprint_when_column_missing_raises() -> None:
    with pytest.raises(ValueError, match="volume"):
        data_fingerprint(random_walk_bars(10).drop(columns="volume"))
