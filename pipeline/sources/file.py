"""Bars from the user's own CSV or Parquet file (``data: {source: file, path: ...}``).

The file holds one series. Column names are matched case-insensitively (surrounding spaces ignored): one
time column named ``timestamp``, ``date``, ``datetime``, ``time`` or ``ts``, then ``open``, ``high``,
``low``, ``close`` and, optionally, ``volume`` (NaN when absent); other columns are ignored. Timestamps are
ISO 8601 text (``2020-01-02``, ``2020-01-02T14:30:00+01:00``) or a Parquet datetime column; naive ones are
UTC, aware ones are converted to UTC. They are bar open times, and daily equity bars sit at midnight.

The whole file is read and checked before a single bar is handed on, so a bad file stores nothing. Refused,
each with one line naming the file and the column or row: a missing or unreadable file, an unknown
extension, a missing or ambiguous column, an unparseable timestamp, a non-numeric or non-finite value,
a duplicate timestamp and rows out of time order. Value checks (high below low, holes) are the quality
suite's job, as for every source.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import SourceError, first_line
from pipeline.sources.base import BarSource, register_source
from pipeline.window import Window, fmt

#: Accepted names of the time column, in order of preference (all matched case-insensitively).
TIME_COLUMNS: tuple[str, ...] = ("timestamp", "date", "datetime", "time", "ts")
PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")
CSV_SUFFIXES: tuple[str, ...] = (".csv", ".csv.gz")
PARQUET_SUFFIXES: tuple[str, ...] = (".parquet", ".pq")


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    known = ", ".join((*CSV_SUFFIXES, *PARQUET_SUFFIXES))
    raise SourceError(f"file: {path}: unsupported file type (expected one of {known})")


def _where(kind: str, position: int) -> str:
    """A row of the file as the user finds it: the CSV line (header is line 1) or the 1-based Parquet row."""
    return f"line {position + 2}" if kind == "csv" else f"row {position + 1}"


def _read_raw(path: Path, kind: str) -> pd.DataFrame:
    if not path.exists():
        raise SourceError(f"file: {path}: not found")
    if not path.is_file():
        raise SourceError(f"file: {path}: not a regular file")
    if not os.access(path, os.R_OK):
        raise SourceError(f"file: {path}: cannot be read (permission denied)")
    try:
        if kind == "csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
        return pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise SourceError(f"file: {path}: is empty") from None
    except Exception as exc:  # any parser failure becomes one line naming the file
        raise SourceError(f"file: {path}: cannot be read as {kind.upper()} ({first_line(exc)})") from exc


def _columns(raw: pd.DataFrame, path: Path) -> dict[str, str]:
    """Canonical name -> the file's column name, refusing missing, duplicated and ambiguous columns."""
    by_lower: dict[str, str] = {}
    for column in raw.columns:
        key = str(column).strip().lower()
        if key in by_lower:
            raise SourceError(f"file: {path}: columns {by_lower[key]!r} and {column!r} have the same name")
        by_lower[key] = str(column)
    times = [name for name in TIME_COLUMNS if name in by_lower]
    if not times:
        raise SourceError(f"file: {path}: no time column (expected one of {', '.join(TIME_COLUMNS)})")
    if len(times) > 1:
        found = ", ".join(by_lower[name] for name in times)
        raise SourceError(f"file: {path}: several time columns ({found}); keep exactly one")
    missing = [name for name in PRICE_COLUMNS if name not in by_lower]
    if missing:
        raise SourceError(f"file: {path}: missing column(s) {', '.join(missing)}")
    mapping = {"ts": by_lower[times[0]], **{name: by_lower[name] for name in PRICE_COLUMNS}}
    if "volume" in by_lower:
        mapping["volume"] = by_lower["volume"]
    return mapping


def _timestamps(values: pd.Series, path: Path, kind: str, column: str) -> pd.DatetimeIndex:
    """UTC timestamps (naive means UTC); the first unparseable cell is named by its row."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        parsed = values
    elif pd.api.types.is_numeric_dtype(values.dtype):
        raise SourceError(
            f"file: {path}: column {column!r} holds numbers; write timestamps as ISO dates such as 2020-01-02"
        )
    else:
        text = values.astype("string").str.strip()
        empty = (text.isna() | (text == "")).to_numpy()
        if empty.any():
            raise SourceError(f"file: {path}: {_where(kind, int(empty.nonzero()[0][0]))}: empty {column!r}")
        try:
            parsed = pd.to_datetime(text, format="ISO8601", utc=True)
        except (ValueError, TypeError, OverflowError):
            for position, cell in enumerate(text):
                try:
                    pd.to_datetime(cell, format="ISO8601", utc=True)
                except (ValueError, TypeError, OverflowError):
                    raise SourceError(
                        f"file: {path}: {_where(kind, position)}: {column!r} value {cell!r} is not an ISO 8601 time"
                    ) from None
            raise SourceError(f"file: {path}: column {column!r}: timestamps in mixed formats; use one") from None
    if parsed.isna().any():
        position = int(parsed.isna().to_numpy().nonzero()[0][0])
        raise SourceError(f"file: {path}: {_where(kind, position)}: empty {column!r}")
    index = pd.DatetimeIndex(parsed)
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    return index.as_unit("ns").rename("ts")


def _numbers(values: pd.Series, path: Path, kind: str, column: str) -> np.ndarray:
    """Finite float64 values; the first non-numeric, empty or non-finite cell is named by its row."""
    numeric = pd.to_numeric(values, errors="coerce")
    out = numeric.to_numpy(dtype="float64", na_value=np.nan)
    bad = ~np.isfinite(out)
    if bad.any():
        position = int(bad.nonzero()[0][0])
        cell = values.iloc[position]
        blank = cell is None or (isinstance(cell, str) and not cell.strip())
        problem = "is empty" if blank else "is not a finite number"
        raise SourceError(f"file: {path}: {_where(kind, position)}: {column} {cell!r} {problem}")
    return out


def read_bar_file(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet bar file into a canonical frame (UTC ``ts`` index, float64 OHLCV).

    Raises
    ------
    SourceError
        One line naming the file and the column or row at fault (see the module docstring).
    """
    path = Path(path)
    kind = _kind(path)
    raw = _read_raw(path, kind)
    mapping = _columns(raw, path)
    if raw.empty:
        raise SourceError(f"file: {path}: has a header but no rows")
    index = _timestamps(raw[mapping["ts"]].reset_index(drop=True), path, kind, mapping["ts"])
    columns = {
        name: _numbers(raw[mapping[name]].reset_index(drop=True), path, kind, name)
        for name in (*PRICE_COLUMNS, "volume")
        if name in mapping
    }
    if "volume" not in columns:
        columns["volume"] = np.full(len(index), np.nan)
    values = index.asi8
    repeated = np.nonzero(values[1:] == values[:-1])[0]
    backwards = np.nonzero(values[1:] < values[:-1])[0]
    if len(backwards) and (not len(repeated) or backwards[0] < repeated[0]):
        at = int(backwards[0]) + 1
        raise SourceError(
            f"file: {path}: {_where(kind, at)}: {fmt(index[at])} comes before the previous row's {fmt(index[at - 1])}; "
            "rows must be in increasing time order"
        )
    if len(repeated):
        at = int(repeated[0]) + 1
        raise SourceError(f"file: {path}: {_where(kind, at)}: duplicate timestamp {fmt(index[at])} (as the row before)")
    return pd.DataFrame(columns, index=index)[[*PRICE_COLUMNS, "volume"]]


@register_source
class FileSource(BarSource):
    """One CSV or Parquet file holding one series (``path``), read whole and cached for the instance."""

    name = "file"
    asset_class = "equity"  # set data.asset_class: crypto for a 24/7 series
    listing_rank = 60

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._bars: pd.DataFrame | None = None

    def bars(self) -> pd.DataFrame:
        """Every bar of the file, checked (read once per instance)."""
        if self.path is None:
            raise SourceError("file: no path given (set data.path to a CSV or Parquet file)")
        if self._bars is None:
            self._bars = read_bar_file(self.path)
        return self._bars

    def fetch(self, symbol: str, timeframe: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        return Window(start, end).clip(self.bars()).copy()
