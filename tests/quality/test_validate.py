"""validate_bars on real sample bars, on corrupted copies of them, and on hourly 24/7 bars."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import DataQualityError
from pipeline.quality import MAX_EXAMPLES, validate_bars
from pipeline.timeframes import EQUITY_CALENDAR, exchange_calendar
from tests.stubs import sample_bars

TS = pd.Timestamp("2010-06-08", tz="UTC")  # a Tuesday session inside every window used here


def _calendar_first_session() -> pd.Timestamp:
    return pd.Timestamp(exchange_calendar(EQUITY_CALENDAR).first_session).tz_localize("UTC")


def _failed(report) -> set[str]:
    return {outcome.name for outcome in report.failed}


# --- real data ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("symbol", ["AAPL", "IBM"])
def test_validate_bars_when_real_sample_2005_2012_passes(symbol: str) -> None:
    bars = sample_bars(symbol, "2005-01-01", "2012-12-31")

    report = validate_bars(bars, asset_class="equity", timeframe="1d")

    assert report.success, report.summary_line()
    assert report.suite == "ohlcv_equity"
    assert report.failed == ()
    assert report.rows == len(bars)
    assert report.coverage == 1.0
    assert report.present_bars == report.expected_bars > 0
    assert report.missing == () and report.off_grid == ()
    assert report.start == pd.Timestamp("2005-01-03", tz="UTC")
    assert report.end == pd.Timestamp("2013-01-01", tz="UTC")  # half-open: the close of the last bar


def test_validate_bars_when_window_predates_calendar_reports_unchecked_bars(aapl_bars: pd.DataFrame) -> None:
    # exchange_calendars builds XNYS for its default range only (20 years back from today), and
    # expected_grid clamps to it: bars before it cannot be placed on a grid. They must be counted and
    # said, not silently treated as checked.
    first = _calendar_first_session()
    before = int((aapl_bars.index < first).sum())

    report = validate_bars(aapl_bars, asset_class="equity", timeframe="1d")

    assert report.unchecked_bars == before
    assert report.expected_bars == len(aapl_bars) - before
    if before:
        assert any(EQUITY_CALENDAR in note and str(before) in note for note in report.notes)
        assert "not checked against the grid" in report.summary_line()
        assert report.to_dict()["unchecked_bars"] == before


def test_validate_bars_when_window_inside_calendar_checks_every_bar(aapl_recent: pd.DataFrame) -> None:
    report = validate_bars(aapl_recent, asset_class="equity", timeframe="1d")

    assert report.success, report.summary_line()
    assert report.unchecked_bars == 0
    assert report.notes == ()
    assert report.expected_bars == report.present_bars == len(aapl_recent)


def test_validate_bars_when_hole_before_2006_fails(aapl_bars: pd.DataFrame) -> None:
    hole = pd.Timestamp("2005-06-08", tz="UTC")

    report = validate_bars(aapl_bars.drop(hole), asset_class="equity", timeframe="1d")

    assert not report.success
    assert report.missing == (hole,)


# --- corrupted real data ------------------------------------------------------------------------------


def _set(column: str, value: Callable[[pd.Series], float]) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def corrupt(bars: pd.DataFrame) -> pd.DataFrame:
        bars.loc[TS, column] = value(bars.loc[TS])
        return bars

    return corrupt


def _duplicate(bars: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([bars, bars.loc[[TS]]]).sort_index(kind="stable")


def _weekend_bar(bars: pd.DataFrame) -> pd.DataFrame:
    saturday = pd.Timestamp("2010-06-12", tz="UTC")
    extra = bars.loc[[TS]].set_axis(pd.DatetimeIndex([saturday], name="ts"))
    return pd.concat([bars, extra]).sort_index()


def _spike(bars: pd.DataFrame) -> pd.DataFrame:
    """One bar at ten times its price (internally consistent: high >= open, close >= low)."""
    bars.loc[TS, ["open", "high", "low", "close"]] *= 10.0
    return bars


CORRUPTIONS = {
    "high below low": (_set("high", lambda row: row["low"] * 0.9), "high_ge_low"),
    "high below close": (_set("high", lambda row: row["close"] * 0.99), "high_ge_close"),
    "low above open": (_set("low", lambda row: row["open"] * 1.01), "open_ge_low"),
    "negative volume": (_set("volume", lambda row: -1.0), "volume_non_negative"),
    "null close": (_set("close", lambda row: np.nan), "close_not_null"),
    "null volume": (_set("volume", lambda row: np.nan), "volume_not_null"),
    "zero price": (_set("low", lambda row: 0.0), "low_positive"),
    "duplicated timestamp": (_duplicate, "ts_unique"),
    "weekend bar": (_weekend_bar, "on_grid"),
    "infinite close": (_set("close", lambda row: np.inf), "finite"),
    "infinite volume": (_set("volume", lambda row: -np.inf), "finite"),
    "ten-fold one-bar spike": (_spike, "no_price_jump"),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_validate_bars_when_corrupted_fails_with_offending_row(aapl_recent: pd.DataFrame, corruption: str) -> None:
    corrupt, check = CORRUPTIONS[corruption]
    bars = corrupt(aapl_recent.copy())

    report = validate_bars(bars, asset_class="equity", timeframe="1d")

    assert not report.success
    assert check in _failed(report)
    outcome = report.outcome(check)
    assert outcome.unexpected_count >= 1
    assert outcome.examples, "a failing row-level expectation carries example rows"
    example = outcome.examples[0]
    assert set(example) == {"ts", "open", "high", "low", "close", "volume"}
    assert pd.Timestamp(example["ts"]).weekday() < 5 or check == "on_grid"
    assert check in report.summary_line()


def test_validate_bars_when_high_below_low_example_shows_the_values(aapl_recent: pd.DataFrame) -> None:
    bars = aapl_recent.copy()
    bars.loc[TS, "high"] = bars.loc[TS, "low"] * 0.9

    outcome = validate_bars(bars, asset_class="equity", timeframe="1d").outcome("high_ge_low")

    assert outcome.unexpected_count == 1
    assert outcome.column == "high, low"
    assert outcome.expectation == "expect_column_pair_values_a_to_be_greater_than_b"
    assert outcome.examples == [
        {
            "ts": TS.isoformat(),
            **{column: float(bars.loc[TS, column]) for column in ("open", "high", "low", "close", "volume")},
        }
    ]


def test_validate_bars_when_close_is_null_only_the_null_check_fails(aapl_recent: pd.DataFrame) -> None:
    bars = aapl_recent.copy()
    bars.loc[TS, "close"] = np.nan

    report = validate_bars(bars, asset_class="equity", timeframe="1d")

    assert _failed(report) == {"close_not_null"}
    assert report.outcome("close_not_null").examples[0]["close"] is None


def test_validate_bars_when_timestamp_duplicated_names_both_rows(aapl_recent: pd.DataFrame) -> None:
    report = validate_bars(_duplicate(aapl_recent.copy()), asset_class="equity", timeframe="1d")

    unique = report.outcome("ts_unique")
    assert unique.unexpected_count == 2
    assert [example["ts"] for example in unique.examples] == [TS.isoformat()] * 2
    assert "ts_increasing" in _failed(report)
    assert report.coverage == 1.0


def test_validate_bars_when_row_dropped_reports_the_hole(aapl_recent: pd.DataFrame) -> None:
    report = validate_bars(aapl_recent.drop(TS), asset_class="equity", timeframe="1d")

    assert not report.success
    assert _failed(report) == {"grid_coverage"}
    assert report.missing == (TS,)
    assert report.present_bars == report.expected_bars - 1
    assert report.coverage == pytest.approx(1 - 1 / report.expected_bars)
    coverage = report.outcome("grid_coverage")
    assert coverage.unexpected_count == 1
    assert coverage.examples == [{"ts": TS.isoformat(), "present": False}]


def test_validate_bars_when_min_coverage_relaxed_tolerates_a_hole(aapl_recent: pd.DataFrame) -> None:
    report = validate_bars(aapl_recent.drop(TS), asset_class="equity", timeframe="1d", min_coverage=0.99)

    assert report.success, report.summary_line()
    assert report.missing == (TS,)
    assert report.coverage < 1.0


def test_validate_bars_when_weekend_bar_lists_it_off_grid(aapl_recent: pd.DataFrame) -> None:
    report = validate_bars(_weekend_bar(aapl_recent.copy()), asset_class="equity", timeframe="1d")

    assert _failed(report) == {"on_grid"}
    assert report.off_grid == (pd.Timestamp("2010-06-12", tz="UTC"),)
    assert report.outcome("on_grid").examples[0]["ts"] == "2010-06-12T00:00:00+00:00"


def test_validate_bars_when_too_few_rows_fails_min_rows(aapl_recent: pd.DataFrame) -> None:
    report = validate_bars(aapl_recent.iloc[:10], asset_class="equity", timeframe="1d")

    assert _failed(report) == {"min_rows"}
    assert report.outcome("min_rows").observed_value == 10


def test_validate_bars_when_min_rows_given_overrides_the_suite(aapl_recent: pd.DataFrame) -> None:
    few = aapl_recent.iloc[:10]

    assert validate_bars(few, asset_class="equity", timeframe="1d", min_rows=10).success
    assert not validate_bars(aapl_recent, asset_class="equity", timeframe="1d", min_rows=10_000).success


def test_validate_bars_when_unsorted_fails_increasing(aapl_recent: pd.DataFrame) -> None:
    bars = aapl_recent.iloc[::-1]

    report = validate_bars(bars, asset_class="equity", timeframe="1d")

    assert _failed(report) == {"ts_increasing"}
    assert report.coverage == 1.0


def test_validate_bars_when_window_wider_than_bars_reports_edges_missing(aapl_recent: pd.DataFrame) -> None:
    bars = aapl_recent.loc["2010-01-01":"2010-12-31"]

    report = validate_bars(bars, asset_class="equity", timeframe="1d", start="2010-01-01", end="2011-01-07")

    assert _failed(report) == {"grid_coverage"}
    assert report.missing[0] == pd.Timestamp("2011-01-03", tz="UTC")
    assert len(report.missing) == 5


def test_validate_bars_when_bars_outside_window_counts_them_off_grid(aapl_recent: pd.DataFrame) -> None:
    report = validate_bars(aapl_recent, asset_class="equity", timeframe="1d", start="2009-01-01")

    assert _failed(report) == {"on_grid"}
    assert report.outcome("on_grid").unexpected_count == int((aapl_recent.index < "2009-01-01").sum())


def test_validate_bars_when_empty_returns_failed_report() -> None:
    empty = pd.DataFrame(
        {column: pd.Series([], dtype="float64") for column in ("open", "high", "low", "close", "volume")},
        index=pd.DatetimeIndex([], tz="UTC", name="ts"),
    )

    for bars in (empty, pd.DataFrame()):
        report = validate_bars(bars, asset_class="equity", timeframe="1d")

        assert not report.success
        assert "min_rows" in _failed(report)
        assert report.rows == 0 and report.expected_bars == 0 and report.coverage == 0.0
        assert "no bars to validate" in report.notes


def test_validate_bars_when_column_missing_reports_it(aapl_recent: pd.DataFrame) -> None:
    report = validate_bars(aapl_recent.drop(columns="volume"), asset_class="equity", timeframe="1d")

    assert _failed(report) == {"volume_not_null", "volume_non_negative"}
    assert "volume" in (report.outcome("volume_not_null").exception or "")


def test_validate_bars_when_ts_column_and_source_accepts_them(aapl_recent: pd.DataFrame) -> None:
    bars = aapl_recent.assign(source="sample").reset_index()

    report = validate_bars(bars, asset_class="equity", timeframe="1d")

    assert report.success, report.summary_line()


def test_validate_bars_leaves_the_input_untouched(aapl_recent: pd.DataFrame) -> None:
    bars = aapl_recent.copy()

    validate_bars(bars, asset_class="equity", timeframe="1d")

    pd.testing.assert_frame_equal(bars, aapl_recent)


def test_validate_bars_when_examples_many_caps_them(aapl_recent: pd.DataFrame) -> None:
    bars = aapl_recent.copy()
    bars["volume"] = -1.0

    outcome = validate_bars(bars, asset_class="equity", timeframe="1d").outcome("volume_non_negative")

    assert outcome.unexpected_count == len(bars)
    assert len(outcome.examples) == MAX_EXAMPLES


def test_validate_bars_when_timestamps_naive_raises(aapl_recent: pd.DataFrame) -> None:
    with pytest.raises(DataQualityError, match="tz-naive"):
        validate_bars(aapl_recent.tz_localize(None), asset_class="equity", timeframe="1d")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"asset_class": "bond", "timeframe": "1d"}, "asset class"),
        ({"asset_class": "equity", "timeframe": "2d"}, "timeframe"),
        ({"asset_class": "equity", "timeframe": "1d", "min_coverage": 1.5}, "min_coverage"),
        ({"asset_class": "equity", "timeframe": "1d", "min_rows": -1}, "min_rows"),
    ],
)
def test_validate_bars_when_arguments_invalid_raises(aapl_recent: pd.DataFrame, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_bars(aapl_recent, **kwargs)


# --- crypto, hourly ---------------------------------------------------------------------------------


def test_validate_bars_when_hourly_crypto_complete_passes(hourly_bars: pd.DataFrame) -> None:
    report = validate_bars(hourly_bars, asset_class="crypto", timeframe="1h")

    assert report.success, report.summary_line()
    assert report.suite == "ohlcv_crypto"
    assert report.expected_bars == report.present_bars == len(hourly_bars)
    assert report.notes == ()


def test_validate_bars_when_crypto_hour_missing_fails(hourly_bars: pd.DataFrame) -> None:
    hole = hourly_bars.index[100]

    report = validate_bars(hourly_bars.drop(hole), asset_class="crypto", timeframe="1h")

    assert _failed(report) == {"grid_coverage"}
    assert report.missing == (hole,)
    assert report.outcome("grid_coverage").examples == [{"ts": hole.isoformat(), "present": False}]


def test_validate_bars_when_crypto_volume_null_passes(hourly_bars: pd.DataFrame) -> None:
    bars = hourly_bars.copy()
    bars.iloc[5:50, bars.columns.get_loc("volume")] = np.nan

    assert validate_bars(bars, asset_class="crypto", timeframe="1h").success


def test_validate_bars_when_crypto_volume_negative_fails(hourly_bars: pd.DataFrame) -> None:
    bars = hourly_bars.copy()
    bars.iloc[7, bars.columns.get_loc("volume")] = -3.0

    report = validate_bars(bars, asset_class="crypto", timeframe="1h")

    assert _failed(report) == {"volume_non_negative"}
    assert report.outcome("volume_non_negative").examples[0]["ts"] == bars.index[7].isoformat()


def test_validate_bars_when_crypto_bar_misaligned_fails_on_grid(hourly_bars: pd.DataFrame) -> None:
    bars = hourly_bars.copy()
    stamps = bars.index.to_list()
    stamps[10] = stamps[10] + pd.Timedelta(minutes=30)
    bars.index = pd.DatetimeIndex(stamps, name="ts")

    report = validate_bars(bars, asset_class="crypto", timeframe="1h")

    assert _failed(report) == {"on_grid", "grid_coverage"}
    assert report.off_grid == (stamps[10],)
    assert report.missing == (hourly_bars.index[10],)


@pytest.mark.parametrize(("freq", "timeframe"), [("1h", "1h"), ("1min", "1m"), ("5min", "5m")])
def test_validate_bars_when_intraday_series_is_hole_free_and_end_is_a_date_passes_on_grid(freq, timeframe) -> None:
    import datetime as dt

    from tests.stubs import random_walk_bars

    n = int(pd.Timedelta(days=2) / pd.Timedelta(freq))
    bars = random_walk_bars(n, start="2018-06-29", freq=freq, seed=4)  # 2018-06-29 00:00 .. 2018-06-30 last bar

    report = validate_bars(bars, asset_class="crypto", timeframe=timeframe, start=dt.date(2018, 6, 29),
                           end=dt.date(2018, 6, 30))  # fmt: skip

    assert report.success, report.summary_line()
    assert report.expected_bars == report.present_bars == n
    assert report.end == pd.Timestamp("2018-07-01", tz="UTC")  # a date-only end covers its whole day


def test_validate_bars_when_a_spike_is_ten_fold_names_its_row(hourly_bars: pd.DataFrame) -> None:
    bars = hourly_bars.copy()
    spike = bars.index[200]
    bars.loc[spike, ["open", "high", "low", "close"]] *= 10.0

    report = validate_bars(bars, asset_class="crypto", timeframe="1h")

    assert _failed(report) == {"no_price_jump"}
    outcome = report.outcome("no_price_jump")
    assert outcome.unexpected_count == 2  # into the spike and back out of it
    assert outcome.examples[0]["ts"] == spike.isoformat()
    from pipeline.quality import raise_for_failure

    with pytest.raises(DataQualityError) as err:
        raise_for_failure(report, "BTCUSDT 1h")
    assert f"no_price_jump (2 rows, e.g. ts={spike.isoformat()})" in str(err.value)
