"""Timeframes and calendars: bar lengths, expected bar grids and annualisation.

Equities trade on exchange sessions (exchange_calendars, XNYS by default); crypto trades every bar.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

import pandas as pd

AssetClass = Literal["equity", "crypto"]

BAR_LENGTH: dict[str, pd.Timedelta] = {
    "1m": pd.Timedelta(minutes=1),
    "5m": pd.Timedelta(minutes=5),
    "15m": pd.Timedelta(minutes=15),
    "1h": pd.Timedelta(hours=1),
    "4h": pd.Timedelta(hours=4),
    "1d": pd.Timedelta(days=1),
}

EQUITY_SESSION_MINUTES = 390
EQUITY_SESSIONS_PER_YEAR = 252
EQUITY_CALENDAR = "XNYS"


def bar_length(timeframe: str) -> pd.Timedelta:
    """Length of one bar; raises KeyError-free ValueError for an unknown timeframe."""
    try:
        return BAR_LENGTH[timeframe]
    except KeyError:
        raise ValueError(f"unknown timeframe {timeframe!r}; expected one of {', '.join(BAR_LENGTH)}") from None


def bars_per_year(timeframe: str, asset_class: AssetClass) -> float:
    """Bars in a year of trading, for annualising returns, Sharpe and volatility."""
    length = bar_length(timeframe)
    if asset_class == "crypto":
        return pd.Timedelta(days=365) / length
    if timeframe == "1d":
        return float(EQUITY_SESSIONS_PER_YEAR)
    per_session = max(1, int(pd.Timedelta(minutes=EQUITY_SESSION_MINUTES) / length))
    return float(EQUITY_SESSIONS_PER_YEAR * per_session)


@functools.lru_cache(maxsize=4)
def exchange_calendar(name: str = EQUITY_CALENDAR) -> Any:
    """The exchange_calendars calendar ``name`` (from 1990), built once: the one :func:`expected_grid` uses."""
    import exchange_calendars as xcals

    return xcals.get_calendar(name, start="1990-01-01")


def expected_grid(
    timeframe: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    asset_class: AssetClass,
    calendar: str = EQUITY_CALENDAR,
) -> pd.DatetimeIndex:
    """Bar open times (UTC) a complete series would have in the half-open window ``[start, end)``.

    ``start`` and ``end`` are instants (see :mod:`pipeline.window`; parse user-facing bounds with
    ``Window.parse`` first). Daily equity bars are stamped at midnight UTC of the session date;
    intraday equity bars at the open of each bar inside regular sessions; crypto has every bar.
    """
    from pipeline.window import utc

    start, end = utc(start), utc(end)
    length = bar_length(timeframe)
    if end <= start:
        return pd.DatetimeIndex([], tz="UTC", name="ts")
    if asset_class == "crypto":
        first = start.ceil(length) if timeframe != "1d" else start.ceil("D")
        return pd.date_range(first, end, freq=length, name="ts", inclusive="left")
    cal = exchange_calendar(calendar)
    lo = max(start.normalize().tz_localize(None), cal.first_session)
    hi = min((end - pd.Timedelta(microseconds=1)).normalize().tz_localize(None), cal.last_session)
    if lo > hi:
        return pd.DatetimeIndex([], tz="UTC", name="ts")
    sessions = cal.sessions_in_range(lo, hi)
    if timeframe == "1d":
        grid = pd.DatetimeIndex(sessions.tz_localize("UTC") if sessions.tz is None else sessions, name="ts")
        return pd.DatetimeIndex(grid[(grid >= start) & (grid < end)], name="ts")
    opens = cal.schedule.loc[sessions, "open"]
    closes = cal.schedule.loc[sessions, "close"]
    stamps = [pd.date_range(o, c, freq=length, inclusive="left") for o, c in zip(opens, closes, strict=True)]
    grid = stamps[0].append(stamps[1:]) if stamps else pd.DatetimeIndex([], tz="UTC")
    grid = grid.tz_convert("UTC") if grid.tz is not None else grid.tz_localize("UTC")
    return pd.DatetimeIndex(grid[(grid >= start) & (grid < end)], name="ts")
