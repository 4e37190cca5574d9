"""Calendar: cyclical encodings of the bar's open time (UTC) — day of week, day of year, time of day."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.features.registry import BarArrays, feature_group, feature_last_row


@feature_group("calendar", warmup=0)
def calendar(bars: pd.DataFrame) -> pd.DataFrame:
    """Encode the bar open time (UTC) as sine/cosine pairs.

    Columns: ``calendar_dow_sin/cos`` (day of week), ``calendar_doy_sin/cos`` (day of year) and
    ``calendar_tod_sin/cos`` (time of day; constant on daily bars).
    """
    return pd.DataFrame(_encode(pd.DatetimeIndex(bars.index)), index=bars.index)


def _encode(index: pd.DatetimeIndex) -> dict[str, np.ndarray]:
    """The six encodings of each time in ``index`` (each row depends on its own time only)."""
    index = index.tz_convert("UTC").tz_localize(None) if index.tz is not None else index
    stamps = index.to_numpy()
    days = stamps.astype("datetime64[D]")
    day_number = days.astype("int64")
    dow = ((day_number + 3) % 7).astype("float64")  # 1970-01-01 was a Thursday; Monday = 0
    doy = (days - days.astype("datetime64[Y]").astype("datetime64[D]")).astype("float64")
    seconds = (stamps - days).astype("timedelta64[s]").astype("float64")
    dow_angle = 2 * np.pi * dow / 7.0
    doy_angle = 2 * np.pi * doy / 365.25
    tod_angle = 2 * np.pi * seconds / 86400.0
    return {
        "calendar_dow_sin": np.sin(dow_angle),
        "calendar_dow_cos": np.cos(dow_angle),
        "calendar_doy_sin": np.sin(doy_angle),
        "calendar_doy_cos": np.cos(doy_angle),
        "calendar_tod_sin": np.sin(tod_angle),
        "calendar_tod_cos": np.cos(tod_angle),
    }


@feature_last_row("calendar")
def calendar_last(bars: BarArrays) -> dict[str, float]:
    """The last row of :func:`calendar`: the same encoding of the last bar's time alone (exact)."""
    return {name: float(values[0]) for name, values in _encode(bars.index[-1:]).items()}
