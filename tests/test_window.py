"""The one window definition: half-open [start, end) in UTC, a date-only end covering its day."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from pipeline.timeframes import expected_grid
from pipeline.window import Window


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


@pytest.mark.parametrize("end", ["2018-06-30", dt.date(2018, 6, 30)])
def test_window_when_end_is_a_date_includes_that_whole_day(end) -> None:
    window = Window.parse("2018-06-01", end)
    assert (window.start, window.end) == (utc("2018-06-01"), utc("2018-07-01"))
    assert window.contains(utc("2018-06-30 23:59")) and not window.contains(utc("2018-07-01"))
    assert str(window) == "[2018-06-01, 2018-07-01)"


def test_window_when_end_is_a_time_excludes_it_and_reads_naive_as_utc() -> None:
    window = Window.parse("2024-01-01T00:00", "2024-01-10T12:00")
    assert window.end == utc("2024-01-10 12:00")
    assert not window.contains(utc("2024-01-10 12:00")) and window.contains(utc("2024-01-10 11:00"))
    aware = Window.parse(pd.Timestamp("2024-01-01 01:00", tz="Europe/Berlin"), "2024-01-02")
    assert aware.start == utc("2024-01-01 00:00")


def test_window_when_end_is_not_after_start_refuses_it() -> None:
    with pytest.raises(ValueError, match="empty window"):
        Window.parse(utc("2024-01-02"), utc("2024-01-02"))


@pytest.mark.parametrize(("timeframe", "bars"), [("1m", 1440), ("5m", 288), ("1h", 24), ("4h", 6), ("1d", 1)])
def test_expected_grid_when_given_a_one_day_window_holds_every_bar_of_that_day(timeframe: str, bars: int) -> None:
    window = Window.parse("2018-06-30", "2018-06-30")
    grid = expected_grid(timeframe, window.start, window.end, "crypto")
    assert len(grid) == bars
    assert grid[0] == utc("2018-06-30") and grid[-1] < window.end
