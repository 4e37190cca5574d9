"""Exchange calendar sessions: the table expected_grid reads, and its per-day cache under QUANTGATE_HOME."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import exchange_calendars as xcals
import pandas as pd
import pytest

from pipeline.timeframes import CALENDAR_START, EQUITY_CALENDAR, exchange_calendar, expected_grid

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def fresh_calendars(qg_home: Path):
    exchange_calendar.cache_clear()
    yield qg_home / "cache" / "calendars"
    exchange_calendar.cache_clear()


def test_exchange_calendar_when_read_back_from_cache_equals_exchange_calendars(fresh_calendars: Path) -> None:
    built = exchange_calendar(EQUITY_CALENDAR)
    [stored] = fresh_calendars.glob("XNYS-*.npz")
    exchange_calendar.cache_clear()
    cached = exchange_calendar(EQUITY_CALENDAR)

    truth = xcals.get_calendar(EQUITY_CALENDAR, start=CALENDAR_START)
    for table in (built, cached):
        pd.testing.assert_frame_equal(table.schedule, truth.schedule[["open", "close"]], check_freq=False)
        assert table.first_session == truth.first_session and table.last_session == truth.last_session
        got = table.sessions_in_range(pd.Timestamp("2012-12-20"), pd.Timestamp("2013-01-03"))
        assert list(got) == list(truth.sessions_in_range("2012-12-20", "2013-01-03"))  # Christmas, New Year out
    assert stored.exists()


def test_exchange_calendar_when_cache_file_is_unreadable_rebuilds_it(fresh_calendars: Path) -> None:
    exchange_calendar(EQUITY_CALENDAR)
    [stored] = fresh_calendars.glob("XNYS-*.npz")
    stored.write_bytes(b"not a numpy file")
    exchange_calendar.cache_clear()

    table = exchange_calendar(EQUITY_CALENDAR)

    assert table.first_session == pd.Timestamp("1990-01-02")
    assert stored.read_bytes().startswith(b"PK")  # rewritten as an .npz (zip) file


def test_exchange_calendar_when_cached_a_new_process_does_not_import_exchange_calendars(
    fresh_calendars: Path,
) -> None:
    exchange_calendar(EQUITY_CALENDAR)
    code = (
        "import sys, pandas as pd; from pipeline.timeframes import expected_grid; "
        "ts = lambda day: pd.Timestamp(day, tz='UTC'); "
        "g = expected_grid('1d', ts('2012-01-01'), ts('2013-01-01'), 'equity'); "
        "print(len(g), 'exchange_calendars' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)

    assert done.stdout.split() == ["250", "False"]  # NYSE sessions in 2012 (Hurricane Sandy closed two days)


def test_expected_grid_when_intraday_equity_follows_the_session_hours(fresh_calendars: Path) -> None:
    grid = expected_grid("1h", pd.Timestamp("2012-11-23", tz="UTC"), pd.Timestamp("2012-11-24", tz="UTC"), "equity")

    # the day after Thanksgiving closes at 13:00 New York (18:00 UTC): 14:30 .. 17:30 UTC
    assert [t.strftime("%H:%M") for t in grid] == ["14:30", "15:30", "16:30", "17:30"]
