"""A stable fingerprint of the exact bars an experiment used.

The fingerprint is a SHA-256 over the bar timestamps (UTC nanoseconds) and the float64 OHLCV values,
column by column, with every NaN normalised to one bit pattern. It ignores the ``source`` column
(provenance is tagged separately) and the frame's memory layout, so the same bars always give the same
hash and a change of one value anywhere changes it.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

FINGERPRINT_SCHEME = "quantgate-bars-v1"
FINGERPRINT_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")


def data_fingerprint(bars: pd.DataFrame) -> str:
    """Return the SHA-256 hex digest of ``bars`` (index and OHLCV values).

    Parameters
    ----------
    bars : pandas.DataFrame
        Canonical bars: a ``DatetimeIndex`` and the columns ``open, high, low, close, volume``.

    Returns
    -------
    str
        64 hex characters.

    Raises
    ------
    ValueError
        If a column is missing, a value is not numeric, or the index is not a ``DatetimeIndex``.
    """
    missing = [column for column in FINGERPRINT_COLUMNS if column not in bars.columns]
    if missing:
        raise ValueError(f"bars: missing column(s) {', '.join(missing)} for the data fingerprint")
    if not isinstance(bars.index, pd.DatetimeIndex):
        raise ValueError(f"bars: index must be a DatetimeIndex, got {type(bars.index).__name__}")
    index = bars.index
    index = index.tz_convert("UTC") if index.tz is not None else index
    stamps = index.as_unit("ns").asi8.astype("<i8", copy=False)

    digest = hashlib.sha256()
    header = f"{FINGERPRINT_SCHEME};rows={len(bars)};tz={'utc' if bars.index.tz is not None else 'naive'}"
    digest.update(header.encode())
    digest.update(b";ts;")
    digest.update(np.ascontiguousarray(stamps).tobytes())
    for column in FINGERPRINT_COLUMNS:
        try:
            values = pd.to_numeric(bars[column], errors="raise").to_numpy(dtype="float64", na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"bars: column {column} is not numeric ({exc})") from exc
        values = np.where(np.isnan(values), np.nan, values).astype("<f8", copy=False)
        digest.update(f";{column};".encode())
        digest.update(np.ascontiguousarray(values).tobytes())
    return digest.hexdigest()
