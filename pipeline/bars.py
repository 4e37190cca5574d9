"""Canonical bars: the OHLCV frame every source produces, the store keeps, and quality and features consume.

A light module (pandas only): sources, store, quality and features share its column lists and
:func:`canonicalize` without importing one another.

Index ``ts``: tz-aware UTC bar open times, sorted ascending. Columns ``open, high, low, close, volume``
as float64. A ``source`` column (provenance) is present on frames loaded from the store.
"""

from __future__ import annotations

import pandas as pd

from pipeline.errors import StoreError

PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")
OHLCV_COLUMNS: tuple[str, ...] = (*PRICE_COLUMNS, "volume")


def canonicalize(frame: pd.DataFrame, *, what: str = "bars") -> pd.DataFrame:
    """Return ``frame`` in canonical form: UTC ``ts`` index, float OHLCV columns, sorted.

    Structural problems (missing column, non-numeric value, naive/unsortable index) raise
    :class:`StoreError` naming ``what`` and the offending column or row. Value checks (high < low,
    holes, ...) are the quality suite's job, not this function's.
    """
    df = frame.copy()
    if "ts" in df.columns:
        df = df.set_index("ts")
    missing = [c for c in OHLCV_COLUMNS if c not in df.columns]
    if missing:
        raise StoreError(f"{what}: missing column(s) {', '.join(missing)}")
    index = pd.DatetimeIndex(pd.to_datetime(df.index, utc=True))
    df.index = index.rename("ts")
    for column in OHLCV_COLUMNS:
        values = pd.to_numeric(df[column], errors="coerce")
        bad = values.isna() & df[column].notna()
        if bad.any():
            row = df.index[bad.to_numpy().nonzero()[0][0]]
            raise StoreError(f"{what}: column {column} has a non-numeric value at ts={row}")
        df[column] = values.astype("float64")
    extra = [c for c in df.columns if c not in (*OHLCV_COLUMNS, "source")]
    df = df.drop(columns=extra)
    return df.sort_index(kind="stable")
