"""The trading window's quality check: only bars the suite has not passed in this process are validated."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.execution import runner

KEY = ("TEST", "1d", "equity")


def _bars(n: int = 300) -> pd.DataFrame:
    index = pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC")
    return pd.DataFrame(
        {c: np.arange(n, dtype="float64") + 1 for c in ("open", "high", "low", "close", "volume")}, index=index
    )


def test_unvalidated_tail_when_the_window_grows_checks_only_new_bars_with_context(monkeypatch):
    monkeypatch.setattr(runner, "_validated", {})
    bars = _bars()
    assert len(runner._unvalidated_tail(KEY, bars.iloc[:200])) == 200  # never seen: the whole window
    runner._validated[KEY] = runner._fingerprint(bars.iloc[:200])
    assert runner._unvalidated_tail(KEY, bars.iloc[:200]) is None  # a rerun of the same bar: nothing new
    tail = runner._unvalidated_tail(KEY, bars.iloc[:201])
    assert tail.index[-1] == bars.index[200] and len(tail) == runner.QUALITY_CONTEXT_BARS + 1
    moved = runner._unvalidated_tail(KEY, bars.iloc[50:201])  # the window's start moved forward
    assert len(moved) == runner.QUALITY_CONTEXT_BARS + 1


def test_unvalidated_tail_when_a_stored_bar_changed_checks_the_whole_window(monkeypatch):
    monkeypatch.setattr(runner, "_validated", {})
    bars = _bars()
    runner._validated[KEY] = runner._fingerprint(bars.iloc[:200])
    revised = bars.iloc[:201].copy()
    revised.iloc[10, 3] = 5.0
    assert len(runner._unvalidated_tail(KEY, revised)) == 201
    assert len(runner._unvalidated_tail(KEY, bars.iloc[:150])) == 150  # the last bar that passed is gone
