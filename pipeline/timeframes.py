"""Timeframes and calendars: bar lengths, expected bar grids and annualisation.

Equities trade on exchange sessions (exchange_calendars, XNYS by default); crypto trades every bar.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
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


CALENDAR_START = "1990-01-01"


@dataclass(frozen=True)
class SessionTable:
    """An exchange calendar's sessions and their open/close instants: what :func:`expected_grid` reads.

    Attributes
    ----------
    name : str
        The exchange_calendars name (``XNYS``).
    schedule : pandas.DataFrame
        One row per session (index: session dates, tz-naive), columns ``open`` and ``close`` (UTC), as
        in exchange_calendars' ``ExchangeCalendar.schedule``.
    """

    name: str
    schedule: pd.DataFrame

    @property
    def first_session(self) -> pd.Timestamp:
        """The calendar's first session (tz-naive date)."""
        return self.schedule.index[0]

    @property
    def last_session(self) -> pd.Timestamp:
        """The calendar's last session (tz-naive date)."""
        return self.schedule.index[-1]

    def sessions_in_range(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
        """Sessions from ``start`` to ``end``, both included (tz-naive dates)."""
        index = self.schedule.index
        return index[(index >= pd.Timestamp(start)) & (index <= pd.Timestamp(end))]


@functools.lru_cache(maxsize=4)
def exchange_calendar(name: str = EQUITY_CALENDAR) -> SessionTable:
    """The sessions of exchange_calendars' calendar ``name`` from 1990 to its default end (a year ahead).

    The one table :func:`expected_grid` uses, built once per process. Building it takes exchange_calendars
    a few hundred milliseconds (import and holiday rules), so it is kept under
    ``$QUANTGATE_HOME/cache/calendars/`` for the day: the key is the name, the installed exchange_calendars
    version and today's date (the default end moves with it). An unreadable file is rebuilt.
    """
    path = _calendar_cache_path(name)
    if path is not None:
        try:
            with np.load(path) as stored:
                schedule = pd.DataFrame(
                    {
                        "open": pd.DatetimeIndex(stored["open"]).tz_localize("UTC"),
                        "close": pd.DatetimeIndex(stored["close"]).tz_localize("UTC"),
                    },
                    index=pd.DatetimeIndex(stored["session"]),
                )
            if len(schedule):
                return SessionTable(name, schedule)
        except (OSError, ValueError, KeyError):
            pass  # missing or unreadable: build it
    import exchange_calendars as xcals

    schedule = xcals.get_calendar(name, start=CALENDAR_START).schedule[["open", "close"]].copy()
    if path is not None:
        _write_calendar(path, schedule)
    return SessionTable(name, schedule)


def _calendar_cache_path(name: str) -> Path | None:
    """Today's cache file of calendar ``name``, or None when exchange_calendars' version is unknown, or when
    the default home (``.quantgate`` in the working directory) does not exist yet: a library call such as
    validating bars never creates it in someone's working directory just for a cache."""
    from importlib import metadata

    from pipeline import settings

    try:
        version = metadata.version("exchange_calendars")
    except metadata.PackageNotFoundError:
        return None
    home = settings.home()
    if not home.is_dir() and "QUANTGATE_HOME" not in os.environ:
        return None
    safe = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return home / "cache" / "calendars" / f"{safe}-{CALENDAR_START}-{version}-{dt.date.today()}.npz"


def _write_calendar(path: Path, schedule: pd.DataFrame) -> None:
    """Store ``schedule`` at ``path`` (atomically) and remove older files of the same calendar."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.stem}.{os.getpid()}.npz")
        np.savez(
            partial,
            session=schedule.index.to_numpy(dtype="datetime64[ns]"),
            open=schedule["open"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[ns]"),
            close=schedule["close"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[ns]"),
        )
        os.replace(partial, path)
        prefix = path.name.split("-", 1)[0] + "-"
        for old in path.parent.glob(f"{prefix}*.npz"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only home: build the table in every process, as before


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
