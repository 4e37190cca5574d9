"""The one definition of a time window: half-open ``[start, end)`` in UTC.

Every stage that takes a window (ingest, the bar store, gaps, the quality grid, the experiment's data)
parses it here, so a bar is inside a window in one stage exactly when it is inside it in every other.

Rules
-----
* Both ends are UTC; a naive datetime means UTC, an aware one is converted.
* ``start`` is inclusive. A date-only ``start`` (``2018-06-01`` or a ``datetime.date``) is that day's
  midnight.
* ``end`` is exclusive. A date-only ``end`` *includes that whole day*: ``end: 2018-06-30`` means
  ``end = 2018-07-01T00:00Z`` (exclusive), so the window holds every bar opening on 2018-06-30, the
  hourly bar at 23:00 and the minute bar at 23:59 included. A datetime ``end`` is exclusive as written:
  ``2018-06-30T12:00`` holds the bars opening before noon.
* A bar belongs to the window when its *open time* is inside it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Union

import numpy as np
import pandas as pd

TimeLike = Union[dt.date, dt.datetime, str, pd.Timestamp]  # noqa: UP007 - readable in signatures


def is_date_only(value: object) -> bool:
    """Whether ``value`` names a calendar day rather than an instant (``date`` or ``YYYY-MM-DD``)."""
    if isinstance(value, dt.datetime | pd.Timestamp):
        return False
    if isinstance(value, dt.date):
        return True
    return isinstance(value, str) and len(value.strip()) == 10


def utc(value: TimeLike) -> pd.Timestamp:
    """``value`` as a tz-aware UTC timestamp (naive means UTC)."""
    ts = pd.Timestamp(value)
    if ts is pd.NaT:
        raise ValueError(f"not a time: {value!r}")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def start_of(value: TimeLike) -> pd.Timestamp:
    """The inclusive start of a window beginning at ``value``."""
    return utc(value)


def end_of(value: TimeLike) -> pd.Timestamp:
    """The exclusive end of a window ending at ``value`` (a date-only value includes its whole day)."""
    ts = utc(value)
    return ts + pd.Timedelta(days=1) if is_date_only(value) else ts


@dataclass(frozen=True)
class Window:
    """A half-open UTC window ``[start, end)``; see the module docstring for how values are read.

    Attributes
    ----------
    start : pandas.Timestamp
        First instant inside the window (UTC).
    end : pandas.Timestamp
        First instant after the window (UTC, exclusive).
    """

    start: pd.Timestamp
    end: pd.Timestamp

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", utc(self.start))
        object.__setattr__(self, "end", utc(self.end))
        if self.end <= self.start:
            raise ValueError(f"empty window {self}: end is not after start")

    @classmethod
    def parse(cls, start: TimeLike, end: TimeLike) -> Window:
        """The window from user-facing bounds (a date-only ``end`` includes that day).

        Raises
        ------
        ValueError
            When a bound is not a time, or ``end`` is not after ``start``.
        """
        return cls(start_of(start), end_of(end))

    @classmethod
    def covering(cls, first: pd.Timestamp, last: pd.Timestamp, length: pd.Timedelta) -> Window:
        """The window from the open of bar ``first`` to the close of bar ``last`` (both included)."""
        return cls(utc(first), utc(last) + length)

    def contains(self, ts: TimeLike) -> bool:
        """Whether ``ts`` (an instant) is inside the window."""
        return bool(self.start <= utc(ts) < self.end)

    def mask(self, index: pd.DatetimeIndex) -> np.ndarray:
        """Boolean array: which open times of ``index`` are inside the window."""
        return (index >= self.start) & (index < self.end)

    def clip(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``frame`` (indexed by open time) inside the window."""
        return frame.loc[self.mask(frame.index)]

    def __str__(self) -> str:
        return f"[{fmt(self.start)}, {fmt(self.end)})"


def fmt(ts: pd.Timestamp) -> str:
    """A compact ISO form: the date alone at midnight, else date and minutes."""
    ts = pd.Timestamp(ts)
    return f"{ts:%Y-%m-%d}" if ts == ts.normalize() else f"{ts:%Y-%m-%dT%H:%M}"


__all__ = ["TimeLike", "Window", "end_of", "fmt", "is_date_only", "start_of", "utc"]
