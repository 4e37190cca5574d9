"""Per-bar quality verdicts: a window whose bars all passed is not validated again; new bars are checked
with context; a changed or missing bar before the last passed one means the whole window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import DataQualityError
from pipeline.quality import verdicts
from pipeline.quality.cache import validate_bars_cached
from pipeline.quality.verdicts import (
    CONTEXT_BARS,
    check_ingested,
    check_window,
    fingerprint,
    passed_bars,
    record_passed,
    unchecked_part,
)

SERIES = {"symbol": "AAPL", "timeframe": "1d", "asset_class": "equity"}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QUANTGATE_HOME", str(tmp_path))
    return tmp_path


def _bars(n: int = 300) -> pd.DataFrame:
    index = pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC")
    return pd.DataFrame(
        {c: np.arange(n, dtype="float64") + 1 for c in ("open", "high", "low", "close", "volume")}, index=index
    )


def test_unchecked_part_when_the_window_grows_is_the_new_bars_with_context() -> None:
    bars = _bars()
    assert len(unchecked_part(bars.iloc[:200], None)) == 200  # nothing recorded: the whole window
    passed = fingerprint(bars.iloc[:200])
    assert unchecked_part(bars.iloc[:200], passed) is None  # a rerun of the same bar: nothing new
    tail = unchecked_part(bars.iloc[:201], passed)
    assert tail.index[-1] == bars.index[200] and len(tail) == CONTEXT_BARS + 1
    moved = unchecked_part(bars.iloc[50:201], passed)  # the window's start moved forward
    assert len(moved) == CONTEXT_BARS + 1
    assert unchecked_part(bars.iloc[20:120], passed) is None  # an older window inside the passed range


def test_unchecked_part_when_a_bar_changed_is_missing_or_never_checked_is_the_whole_window() -> None:
    bars = _bars()
    passed = fingerprint(bars.iloc[50:200])
    revised = bars.iloc[50:201].copy()
    revised.iloc[10, 3] = 5.0
    assert len(unchecked_part(revised, passed)) == 151
    assert len(unchecked_part(bars.iloc[50:201].drop(bars.index[60]), passed)) == 150  # a passed bar vanished
    assert len(unchecked_part(bars.iloc[40:201], passed)) == 161  # starts before anything passed


def test_record_passed_when_recorded_twice_merges_and_replaces_the_range(home: Path) -> None:
    bars = _bars()
    record_passed(**SERIES, bars=bars.iloc[:150])
    changed = bars.iloc[100:200].copy()
    changed["volume"] += 1.0
    record_passed(**SERIES, bars=changed)
    stored = passed_bars(**SERIES)
    assert stored.index.equals(bars.index[:200])
    assert stored.iloc[:100].equals(fingerprint(bars.iloc[:100]))
    assert (stored.iloc[100:].to_numpy() == fingerprint(changed).to_numpy()).all()
    assert passed_bars("MSFT", "1d", "equity") is None  # another series has its own verdicts
    verdicts.verdict_path(**SERIES).write_bytes(b"not numpy")
    assert passed_bars(**SERIES) is None  # unreadable: nothing passed, validate again


def test_check_window_validates_only_bars_without_a_verdict(home: Path, aapl_recent: pd.DataFrame) -> None:
    what = "AAPL 1d (test)"
    assert check_window(aapl_recent.iloc[:-1], **SERIES, what=what) == len(aapl_recent) - 1
    assert check_window(aapl_recent.iloc[:-1], **SERIES, what=what) == 0
    assert check_window(aapl_recent, **SERIES, what=what) == CONTEXT_BARS + 1
    assert check_window(aapl_recent.iloc[200:], **SERIES, what=what) == 0


def test_check_window_when_a_new_bar_fails_raises_and_records_nothing(home: Path, aapl_recent: pd.DataFrame) -> None:
    check_window(aapl_recent.iloc[:-1], **SERIES, what="AAPL 1d (test)")
    broken = aapl_recent.copy()
    broken.iloc[-1, broken.columns.get_loc("high")] = broken.iloc[-1]["low"] - 1.0
    with pytest.raises(DataQualityError, match="AAPL 1d \\(test\\): bars failed"):
        check_window(broken, **SERIES, what="AAPL 1d (test)")
    assert aapl_recent.index[-1] not in passed_bars(**SERIES).index


def test_validate_bars_cached_with_a_symbol_records_the_passed_bars(home: Path, aapl_recent: pd.DataFrame) -> None:
    report = validate_bars_cached(aapl_recent, asset_class="equity", timeframe="1d", symbol="AAPL")
    assert report.success
    assert check_window(aapl_recent, **SERIES, what="AAPL 1d") == 0
    assert passed_bars("AAPL", "1d", "crypto") is None  # another asset class (suite) has its own verdicts


def test_check_ingested_records_the_closed_ingested_bars_so_a_reader_validates_nothing(
    home: Path, aapl_recent: pd.DataFrame
) -> None:
    from pipeline.store import BarStore

    store = BarStore()
    store.upsert(aapl_recent, source="sample", symbol="AAPL", timeframe="1d")
    index = aapl_recent.index
    since, day = index[-20], pd.Timedelta(days=1)
    kwargs = {"symbol": "AAPL", "timeframe": "1d", "asset_class": "equity", "since": since, "sources": ["sample"]}
    assert check_ingested(store, now=index[-1] + day / 2, **kwargs) == 19 + CONTEXT_BARS  # the last bar is forming
    assert index[-1] not in passed_bars(**SERIES).index
    assert check_ingested(store, now=index[-1] + day, **kwargs) == 1 + CONTEXT_BARS  # it closed: checked now
    stored = passed_bars(**SERIES)
    assert stored.index.equals(index[-(20 + CONTEXT_BARS) :])
    assert np.array_equal(stored.to_numpy(), fingerprint(aapl_recent.iloc[-(20 + CONTEXT_BARS) :]).to_numpy())
    window = store.load("AAPL", "1d", index[-(20 + CONTEXT_BARS)], index[-1] + day, sources=["sample"])
    assert check_window(window, **SERIES, what="AAPL 1d (cycle)") == 0  # the reader only compares hashes
    assert check_ingested(store, now=index[-1] + day, **kwargs) == 0
